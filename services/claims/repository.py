"""Loads and stores Claim aggregates in the event store (claims.events is their outbox)."""

from contracts import topics
from contracts.envelope import new_event
from infra.eventstore import EventStore
from services.claims.domain import Claim, ClaimEvent

SOURCE = "/services/claims"


def stream_of(claim_id: str) -> str:
    return f"claim-{claim_id}"


class ClaimRepository:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def load(self, claim_id: str) -> Claim | None:
        stored = await self.store.load(stream_of(claim_id))
        if not stored:
            return None
        return Claim.from_events(
            ClaimEvent(e["type"], claim_id, e["aggregateversion"], e["data"]) for e in stored
        )

    async def load_events(self, claim_id: str) -> list[dict]:
        return await self.store.load(stream_of(claim_id))

    async def append(
        self,
        claim: Claim | None,
        events: list[ClaimEvent],
        *,
        organization_id: str | None = None,
        member_id: str | None = None,
        causation_id: str | None = None,
        correlation_id: str | None = None,
        meta: dict | None = None,
    ) -> Claim:
        for event in events:
            org = organization_id or (claim.received.organization_id if claim and claim.received else None)
            member = member_id or (claim.received.member_id if claim and claim.received else None)
            await self.store.append(
                stream_of(event.claim_id),
                topics.CLAIMS,
                new_event(
                    source=SOURCE, type=event.type, subject=event.claim_id, data=dict(event.data),
                    aggregateversion=event.version, organizationid=org,
                    # Keyed by member: one member's claims stay in order, and so do
                    # the accumulators adjudication derives from them.
                    partitionkey=member or event.claim_id,
                    causationid=causation_id, correlationid=correlation_id or event.claim_id,
                ),
                meta=meta if event.version == 1 else None,
            )
            claim = (claim or Claim(event.claim_id)).apply(event)
        return claim
