"""used_units from adjudication's authorization.units_used: recorded once per adjudication.

The aggregate remembers the adjudication ids it recorded, so a redelivered or replayed
event appends nothing (exactly once in effect); a negative count is a give-back (a
reversed or voided claim).
"""

import logging
from datetime import UTC, datetime

from contracts.envelope import CloudEvent
from contracts.events.adjudication import AUTHORIZATION_UNITS_USED, AuthorizationUnitsUsed
from infra.aggregates import ConcurrentUpdate
from infra.consumer import TransientError
from services.authorizations.domain import Authorization, Change
from services.authorizations.repository import AuthorizationRepository

log = logging.getLogger(__name__)
GROUP = "authorizations-units-used"


class UnitsUsed:
    def __init__(self, repository: AuthorizationRepository) -> None:
        self.repository = repository

    def subscriptions(self) -> dict:
        return {AUTHORIZATION_UNITS_USED: self.on_units_used}

    async def on_units_used(self, used: AuthorizationUnitsUsed, event: CloudEvent) -> None:
        missing = []

        def decide(current: Authorization | None) -> list[Change]:
            if current is None:
                missing.append(True)
                return []
            return current.record_units(adjudication_id=used.adjudication_id, claim_id=used.claim_id,
                                        units=used.units, at=datetime.now(UTC))

        try:
            await self.repository.execute(used.authorization_id, decide, causation_id=event.id)
        except ConcurrentUpdate as exc:
            raise TransientError("authorization changed concurrently") from exc
        if missing:
            # Adjudication knows only authorizations published from here: ids only in the log.
            log.warning("units used for an authorization not stored here", extra={"event_id": event.id})
