"""Applies adjudication's decisions to claims: the claim's status is our fact."""

import logging

from contracts.envelope import CloudEvent
from contracts.events.adjudication import CLAIM_ADJUDICATED, AdjudicationDecision
from infra.aggregates import ConcurrentUpdate
from infra.consumer import TransientError
from services.claims.domain import Claim, ClaimEvent, InvalidTransition
from services.claims.repository import ClaimRepository

log = logging.getLogger(__name__)


class DecisionApplier:
    def __init__(self, claims: ClaimRepository) -> None:
        self.claims = claims

    def subscriptions(self) -> dict:
        return {CLAIM_ADJUDICATED: self.on_decision}

    async def on_decision(self, decision: AdjudicationDecision, event: CloudEvent) -> None:
        def decide(claim: Claim | None) -> list[ClaimEvent]:
            if claim is None:
                raise TransientError("decision for a claim not stored here (yet)")
            return claim.apply_decision(decision)

        try:
            await self.claims.execute(
                decision.claim_id, decide, causation_id=event.id, correlation_id=event.correlationid
            )
        except InvalidTransition:
            # The claim moved on (voided, replaced) before the decision arrived.
            log.warning("decision ignored: the claim is no longer awaiting one")
        except ConcurrentUpdate as exc:
            raise TransientError("claim changed concurrently") from exc
