"""Applies adjudication's decisions to claims: the claim's status is our fact."""

import logging

from contracts.envelope import CloudEvent
from contracts.events.adjudication import CLAIM_ADJUDICATED, AdjudicationDecision
from infra.consumer import TransientError
from infra.eventstore import ConcurrencyError
from services.claims.domain import InvalidTransition
from services.claims.repository import ClaimRepository

log = logging.getLogger(__name__)


class DecisionApplier:
    def __init__(self, claims: ClaimRepository) -> None:
        self.claims = claims

    def subscriptions(self) -> dict:
        return {CLAIM_ADJUDICATED: self.on_decision}

    async def on_decision(self, decision: AdjudicationDecision, event: CloudEvent) -> None:
        claim_id = decision.claim_id
        claim = await self.claims.load(claim_id)
        if claim is None:
            raise TransientError("decision for a claim not stored here (yet)")
        try:
            events = claim.apply_decision(decision)
        except InvalidTransition:
            # The claim moved on (voided, replaced) before the decision arrived.
            log.warning("decision ignored", extra={"claim_id": claim_id, "status": str(claim.status)})
            return
        try:
            await self.claims.append(claim, events, causation_id=event.id, correlation_id=event.correlationid)
        except ConcurrencyError as exc:
            raise TransientError("claim changed concurrently") from exc
