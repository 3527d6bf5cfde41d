"""Applies adjudication's decisions to claims: the claim's status is our fact.

processed, denied or info_requested (a pend: claim.info_requested, due in
`info_request_due_days`); a claim takes a decision while received, again after an info
request's answer; a redelivered, stale or late decision is ignored (Claim.apply_decision).
"""

import logging

from contracts.envelope import CloudEvent
from contracts.events.adjudication import CLAIM_ADJUDICATED, AdjudicationDecision
from infra.aggregates import ConcurrentUpdate
from infra.consumer import TransientError
from services.claims.domain import Claim, ClaimEvent, InvalidTransition
from services.claims.domain.claim import DEFAULT_INFO_REQUEST_DUE_DAYS
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
    def __init__(self, claims: ClaimRepository, info_request_due_days: int = DEFAULT_INFO_REQUEST_DUE_DAYS,
                 info_request_due_seconds: int | None = None) -> None:
        self.claims = claims
        self.info_request_due_days = info_request_due_days
        self.info_request_due_seconds = info_request_due_seconds

    def subscriptions(self) -> dict:
        return {CLAIM_ADJUDICATED: self.on_decision}

    async def on_decision(self, decision: AdjudicationDecision, event: CloudEvent) -> None:
        def decide(claim: Claim | None) -> list[ClaimEvent]:
            if claim is None:
                raise DecisionForUnknownClaim("decision for a claim not stored here")
            return claim.apply_decision(decision, info_request_due_days=self.info_request_due_days,
                                        info_request_due_seconds=self.info_request_due_seconds)

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
            # The claim moved on (voided, replaced, already decided, waiting on an info
            # request) before the decision arrived, or the decision was made on a version
            # before an info request's answer (stale): the claim awaits another one.
            log.warning("decision ignored: the claim is no longer awaiting one",
                        extra={"event_id": event.id, "event_type": event.type})
        except ConcurrentUpdate as exc:
            raise TransientError("claim changed concurrently") from exc
