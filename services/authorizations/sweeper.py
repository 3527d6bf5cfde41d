"""The decision-clock and expiry sweeper: one replica at a time (infra/lease.py), periodic.

No TTL indexes (FerretDB v1 has none, and a delete could not publish an event): the
queue read model says which undecided requests are past due and which approvals are
past their end date; the aggregate decides (authorization.overdue once; authorization.expired),
so a sweep that runs twice, or reads a lagging queue, appends nothing more.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from infra.aggregates import ConcurrentUpdate
from infra.lease import Lease
from services.authorizations.queue import AuthorizationQueue
from services.authorizations.repository import AuthorizationRepository

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(self, db: AsyncDatabase, repository: AuthorizationRepository, queue: AuthorizationQueue, *,
                 interval_seconds: float, batch: int = 200) -> None:
        self.repository = repository
        self.queue = queue
        self.interval = interval_seconds
        self.batch = batch
        self.lease = Lease(db, "authorization-sweeper", ttl_seconds=max(10.0, 3 * interval_seconds))

    async def sweep_once(self, now: datetime | None = None) -> tuple[int, int]:
        """(marked overdue, expired) in this round."""
        now = now or datetime.now(UTC)
        overdue = await self._each(await self.queue.due_for_overdue(now, self.batch),
                                   lambda current: current.mark_overdue(now) if current else [])
        expired = await self._each(await self.queue.due_for_expiry(now, self.batch),
                                   lambda current: current.expire(now) if current else [])
        return overdue, expired

    async def _each(self, ids: list[str], decide) -> int:
        changed = 0
        for authorization_id in ids:
            try:
                outcome = await self.repository.execute(authorization_id, decide)
            except ConcurrentUpdate:
                continue  # busy: the next round tries again
            changed += 1 if outcome.appended else 0
        return changed

    async def sweep_forever(self) -> None:
        while True:
            try:
                if await self.lease.acquire():
                    overdue, expired = await self.sweep_once()
                    if overdue or expired:
                        log.info("authorizations swept", extra={"overdue": overdue, "expired": expired})
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the sweeper outlives a failed round
                log.warning("authorization sweep failed", extra={"error_type": type(exc).__name__})
            await asyncio.sleep(self.interval)
