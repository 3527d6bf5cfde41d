"""Applies adjudication's decisions to claims: the claim's status is our fact.

processed, denied or info_requested (a pend: claim.info_requested, due in
`info_request_due_days`); a claim takes a decision while received, again after an info
request's answer; a redelivered, stale or late decision is ignored (Claim.apply_decision).
"""

import logging

from contracts.envelope import CloudEvent
from contracts.events.adjudication import (
    CLAIM_ADJUDICATED,
    CLAIM_PAYMENT_ISSUED,
    AdjudicationDecision,
    ClaimPaymentIssued,
)
from infra.aggregates import ConcurrentUpdate
from infra.consumer import TransientError
from services.claims.domain import Claim, ClaimEvent, InvalidTransition
from services.claims.domain.claim import DEFAULT_INFO_REQUEST_DUE_DAYS
from services.claims.metrics import DAYS_TO_PAYMENT
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
    def __init__(self, claims: ClaimRepository, info_request_due_days: int = DEFAULT_INFO_REQUEST_DUE_DAYS) -> None:
        self.claims = claims
        self.info_request_due_days = info_request_due_days

    def subscriptions(self) -> dict:
        return {CLAIM_ADJUDICATED: self.on_decision, CLAIM_PAYMENT_ISSUED: self.on_payment}

    async def on_payment(self, payment: ClaimPaymentIssued, event: CloudEvent) -> None:
        """claim.paid: the payment run paid the claim (a redelivery or a replayed run changes nothing)."""
        recorded_days: list[float] = []

        def pay(claim: Claim | None) -> list[ClaimEvent]:
            if claim is None:
                raise DecisionForUnknownClaim("payment for a claim not stored here")
            recorded = claim.record_payment(
                remittance_id=payment.remittance_id, eft_trace_number=payment.eft_trace_number,
                paid_at=payment.paid_at, amount=payment.amount,
            )
            if recorded and claim.received is not None:
                days = (payment.paid_at - claim.received.received_at).total_seconds() / 86400
                recorded_days[:] = [days]
            return recorded

        try:
            await self.claims.execute(payment.claim_id, pay, causation_id=event.id, correlation_id=event.correlationid)
        except DecisionForUnknownClaim:
            log.warning("payment for a claim not stored here; parking it",
                        extra={"event_id": event.id, "event_type": event.type})
            raise
        except InvalidTransition:
            # Voided or replaced before the payment was recorded: the payment run reverses
            # it in its next remittance (a reversal, status 22); the claim stays closed.
            log.warning("payment not recorded: the claim is closed",
                        extra={"event_id": event.id, "event_type": event.type})
            return
        except ConcurrentUpdate as exc:
            raise TransientError("claim changed concurrently") from exc
        if recorded_days:
            DAYS_TO_PAYMENT.observe(max(recorded_days[0], 0.0))

    async def on_decision(self, decision: AdjudicationDecision, event: CloudEvent) -> None:
        def decide(claim: Claim | None) -> list[ClaimEvent]:
            if claim is None:
                raise DecisionForUnknownClaim("decision for a claim not stored here")
            return claim.apply_decision(decision, info_request_due_days=self.info_request_due_days)

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
