"""Applies adjudication's decisions to claims: the claim's status is our fact."""

import logging

from contracts.envelope import CloudEvent
from contracts.events.adjudication import CLAIM_ADJUDICATED, AdjudicationDecision
from infra.aggregates import ConcurrentUpdate
from infra.consumer import TransientError
from services.claims.domain import Claim, ClaimEvent, InvalidTransition
from services.claims.repository import ClaimRepository

log = logging.getLogger(__name__)


class DecisionForUnknownClaim(ValueError):
    """A decision for a claim this service never stored.

    Poison, not a wait: a claim is stored before its claim.received is published
    (the event store is the outbox), so adjudication cannot have decided on a claim
    that is not here yet, and no retry will find it. Not transient, so the consumer
    parks it on the dead-letter topic at once instead of holding up the partition.
    """


class DecisionApplier:
    def __init__(self, claims: ClaimRepository) -> None:
        self.claims = claims

    def subscriptions(self) -> dict:
        return {CLAIM_ADJUDICATED: self.on_decision}

    async def on_decision(self, decision: AdjudicationDecision, event: CloudEvent) -> None:
        def decide(claim: Claim | None) -> list[ClaimEvent]:
            if claim is None:
                raise DecisionForUnknownClaim("decision for a claim not stored here")
            return claim.apply_decision(decision)

        try:
            await self.claims.execute(
                decision.claim_id, decide, causation_id=event.id, correlation_id=event.correlationid
            )
        except DecisionForUnknownClaim:
            # Ids only: the decision itself is about a patient.
            log.warning("decision for a claim not stored here; parking it",
                        extra={"event_id": event.id, "event_type": event.type})
            raise
        except InvalidTransition:
            # The claim moved on (voided, replaced) before the decision arrived.
            log.warning("decision ignored: the claim is no longer awaiting one")
        except ConcurrentUpdate as exc:
            raise TransientError("claim changed concurrently") from exc
