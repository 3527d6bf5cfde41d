"""Claim aggregates in the event store (claims.events is their outbox): infra/aggregates.py
with the claim's fold and envelope."""

from collections.abc import Callable, Sequence
from typing import Any

from contracts import topics
from infra.aggregates import AggregateRepository, Envelope, Loaded, Outcome, Recorded
from infra.eventstore import EventStore
from services.claims.domain import Claim, ClaimEvent

SOURCE = "/services/claims"
STREAM_PREFIX = "claim"


def stream_of(claim_id: str) -> str:
    return f"{STREAM_PREFIX}-{claim_id}"


def _fold(claim: Claim | None, claim_id: str, event: Recorded) -> Claim:
    return (claim or Claim(claim_id)).apply(ClaimEvent(event.type, claim_id, event.version, event.data))


def _envelope(claim: Claim) -> Envelope:
    # Keyed by member: one member's claims stay in order, and so do the accumulators
    # adjudication derives from them.
    received = claim.received
    return Envelope(
        organization_id=received.organization_id if received else None,
        partition_key=received.member_id if received else None,
    )


class ClaimRepository:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.aggregates: AggregateRepository[Claim] = AggregateRepository(
            store, topic=topics.CLAIMS, source=SOURCE, stream_prefix=STREAM_PREFIX, fold=_fold, envelope_of=_envelope,
        )

    async def load(self, claim_id: str) -> Claim | None:
        loaded = await self.aggregates.load(claim_id)
        return loaded.state if loaded else None

    async def load_with_version(self, claim_id: str) -> Loaded[Claim] | None:
        return await self.aggregates.load(claim_id)

    async def load_events(self, claim_id: str) -> list[dict[str, Any]]:
        return await self.aggregates.load_events(claim_id)

    async def first(self, claim_id: str) -> dict[str, Any] | None:
        return await self.aggregates.first(claim_id)

    async def has_version(self, claim_id: str, version: int) -> bool:
        return await self.aggregates.has_version(claim_id, version)

    async def create(self, events: Sequence[ClaimEvent], *, meta: dict[str, Any] | None = None) -> Claim:
        """A new claim's stream; ConcurrencyError when a claim with its id exists."""
        claim = await self.aggregates.append(events[0].claim_id, 0, events, meta=meta)
        assert claim is not None
        return claim

    async def execute(
        self,
        claim_id: str,
        decide: Callable[[Claim | None], list[ClaimEvent]],
        *,
        causation_id: str | None = None,
        correlation_id: str | None = None,
        current: Loaded[Claim] | None = None,
    ) -> Outcome[Claim]:
        return await self.aggregates.execute(
            claim_id, decide, causation_id=causation_id, correlation_id=correlation_id, current=current
        )
