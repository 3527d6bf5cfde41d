"""Info requests that expire unanswered: a deadline list and a sweeper behind a lease.

No TTL index (FerretDB v1 has none, and a TTL delete could not deny a claim anyway):
a small `info_request_deadlines` collection holds one document per open request
(its due instant), kept from claims.events by its own consumer group, so it can be
rebuilt from the topic like any read model. The sweeper, run by one replica at a time
(infra/lease.py), reads the deadlines that are due (a scan of open requests only,
never of claims) and tells each claim to expire its request: claim.info_request_expired
then claim.denied CO-16 with the request's RARC (Claim.expire_info_request). The claim
decides; a deadline whose request was answered in the meantime expires nothing and is
dropped. A crash between the two events is finished by the next sweep.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from contracts.envelope import CloudEvent
from contracts.events.claims import (
    CLAIM_INFO_REQUEST_ANSWERED,
    CLAIM_INFO_REQUEST_EXPIRED,
    CLAIM_INFO_REQUESTED,
    ClaimInfoRequested,
)
from infra.aggregates import ConcurrentUpdate
from infra.lease import Lease
from services.claims.domain import Claim, ClaimError, ClaimEvent
from services.claims.domain.claim import end_of_day
from services.claims.repository import ClaimRepository

log = logging.getLogger(__name__)
DEADLINES = "info_request_deadlines"
GROUP = "claims-info-request-deadlines"


class InfoRequestExpiry:
    def __init__(self, db: AsyncDatabase, repository: ClaimRepository, *, interval_seconds: float,
                 batch: int = 200) -> None:
        self.deadlines = db[DEADLINES]
        self.repository = repository
        self.interval = interval_seconds
        self.batch = batch
        self.lease = Lease(db, "info-request-sweeper", ttl_seconds=max(10.0, 3 * interval_seconds))

    def subscriptions(self) -> dict:
        return {
            CLAIM_INFO_REQUESTED: self.on_requested,
            CLAIM_INFO_REQUEST_ANSWERED: self.on_closed,
            CLAIM_INFO_REQUEST_EXPIRED: self.on_closed,
        }

    async def on_requested(self, payload: ClaimInfoRequested, event: CloudEvent) -> None:
        due_at = payload.due_at or end_of_day(payload.due_by)
        await self.deadlines.update_one(
            {"_id": payload.info_request_id},
            {"$setOnInsert": {"claim_id": payload.claim_id, "due_at": due_at}}, upsert=True,
        )

    async def on_closed(self, payload, event: CloudEvent) -> None:
        await self.deadlines.delete_one({"_id": payload.info_request_id})

    async def sweep_once(self, now: datetime | None = None) -> int:
        """Expires every due request; returns how many claims it denied."""
        now = now or datetime.now(UTC)
        due = [doc async for doc in self.deadlines.find({"due_at": {"$lte": now}}).limit(self.batch)]
        denied = 0
        for doc in due:
            info_request_id, claim_id = doc["_id"], doc["claim_id"]

            def decide(claim: Claim | None, info_request_id: str = info_request_id) -> list[ClaimEvent]:
                if claim is None:
                    return []
                return claim.expire_info_request(info_request_id, now)

            try:
                outcome = await self.repository.execute(claim_id, decide)
            except ClaimError:
                outcome = None  # not this claim's request: nothing to expire
            except ConcurrentUpdate:
                continue  # the claim is busy: the next sweep tries again
            if outcome is not None and outcome.appended:
                denied += 1
            await self.deadlines.delete_one({"_id": info_request_id})
        return denied

    async def sweep_forever(self) -> None:
        while True:
            try:
                if await self.lease.acquire():
                    denied = await self.sweep_once()
                    if denied:
                        log.info("info requests expired", extra={"count": denied})
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the sweeper outlives a failed round
                log.warning("info request sweep failed", extra={"error_type": type(exc).__name__})
            await asyncio.sleep(self.interval)
