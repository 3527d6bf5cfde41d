"""The dispatcher: attempts due deliveries, each endpoint in its own lane.

Due entries come from the fan-out in this process (at once), from this replica's own
retries, and from a sweep of the queue (another replica's retries, a killed replica's
deliveries, redeliveries). Each attempt first claims its queue entry with a lease
(due_queue.py), so two replicas never attempt one delivery at the same time.

An endpoint has at most `per_endpoint` attempts in flight per replica and the replica
at most `concurrency` in all; an attempt waits for its endpoint's lane before it
takes a global slot, so a receiver that never answers holds its own lane's slots
(for the 15 s timeout each) and nothing of anyone else's.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from services.notifications import metrics
from services.notifications.deliveries import EXHAUSTED, FAILED, FINAL, PENDING, SUCCEEDED, DeliveryStore, queue_entry
from services.notifications.directory import Directory, active_secrets
from services.notifications.domain.attempt_outcome import Verdict, honours_retry_after, judge, metric_outcome
from services.notifications.domain.retry_schedule import RetrySchedule
from services.notifications.due_queue import DueQueue
from services.notifications.webhook_sender import WebhookSender

log = logging.getLogger(__name__)

ENDPOINT_CACHE_SECONDS = 1.0

OnDisabled = Callable[[str, dict[str, Any], str], Awaitable[None]]
"""(organization_id, endpoint, reason): an endpoint was disabled."""


class Dispatcher:
    def __init__(
        self, *, deliveries: DeliveryStore, queue: DueQueue, directory: Directory, sender: WebhookSender,
        schedule: RetrySchedule, on_disabled: OnDisabled, per_endpoint: int, concurrency: int,
        sweep_interval: float, disable_after: timedelta,
    ) -> None:
        self.deliveries = deliveries
        self.queue = queue
        self.directory = directory
        self.sender = sender
        self.schedule = schedule
        self.on_disabled = on_disabled
        self.per_endpoint = per_endpoint
        self.slots = asyncio.Semaphore(concurrency)
        self.sweep_interval = sweep_interval
        self.disable_after = disable_after
        self._heap: list[tuple[datetime, int, str, str]] = []
        self._due: dict[str, datetime] = {}
        """Deliveries this replica waits to attempt, and when."""
        self._running: set[str] = set()
        self._lanes: dict[str, asyncio.Semaphore] = {}
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._rng = random.Random()
        self._orgs: dict[str, tuple[float, dict[str, dict[str, Any]]]] = {}
        self._claimed: dict[str, dict[str, Any]] = {}
        self._lease_margin = timedelta(seconds=sender.timeout + 5)

    # ------------------------------------------------------------------ feeding

    def offer(self, delivery_id: str, endpoint_id: str, due_at: datetime, entry: dict[str, Any] | None = None) -> None:
        """Due at `due_at`; `entry`: its queue entry, already leased to this replica (the fan-out's)."""
        known = self._due.get(delivery_id)
        if known is not None and known <= due_at:
            return  # already waiting, as early or earlier
        # Not known, or due sooner than known (a redelivery of a delivery waiting for a retry):
        # the older heap item is skipped when it comes up.
        self._due[delivery_id] = due_at
        if entry is not None:
            self._claimed[delivery_id] = entry
        heapq.heappush(self._heap, (due_at, next(self._seq), delivery_id, endpoint_id))
        self._wake.set()

    async def run(self) -> None:
        sweeper = asyncio.create_task(self._sweep_forever())
        try:
            await self._dispatch_forever()
        finally:
            sweeper.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(sweeper, *self._tasks, return_exceptions=True)

    async def _dispatch_forever(self) -> None:
        while True:
            now = datetime.now(UTC)
            while self._heap and self._heap[0][0] <= now:
                due_at, _, delivery_id, endpoint_id = heapq.heappop(self._heap)
                if self._due.get(delivery_id) != due_at or delivery_id in self._running:
                    continue  # superseded by a sooner offer, or its attempt is in flight
                self._running.add(delivery_id)
                task = asyncio.create_task(self._in_lane(delivery_id, endpoint_id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            wait = 1.0 if not self._heap else min(1.0, max(0.0, (self._heap[0][0] - now).total_seconds()))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except TimeoutError:
                pass

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as exc:  # noqa: BLE001 - the sweep must outlive an outage
                log.warning("delivery queue sweep failed", extra={"error_type": type(exc).__name__})
            await asyncio.sleep(self.sweep_interval)

    async def sweep(self) -> None:
        entries = await self.queue.scan({"body": 0})
        now = datetime.now(UTC)
        metrics.QUEUE_DEPTH.set(len(entries))
        oldest = min((e["created_at"] for e in entries if e.get("created_at")), default=None)
        metrics.OLDEST_PENDING.set((now - oldest).total_seconds() if oldest else 0)
        for entry in entries:
            if self.queue.claimable(entry, now):
                self.offer(entry["_id"], entry.get("endpoint_id", ""), entry["due_at"])

    # ------------------------------------------------------------------ attempts

    def _lane(self, endpoint_id: str) -> asyncio.Semaphore:
        lane = self._lanes.get(endpoint_id)
        if lane is None:
            lane = self._lanes[endpoint_id] = asyncio.Semaphore(self.per_endpoint)
        return lane

    async def _in_lane(self, delivery_id: str, endpoint_id: str) -> None:
        again: datetime | None = None
        try:
            async with self._lane(endpoint_id):
                async with self.slots:
                    again = await self.attempt(delivery_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the lease expires and the sweep brings it back
            log.warning("delivery attempt failed to complete", extra={"error_type": type(exc).__name__})
        finally:
            self._running.discard(delivery_id)
            if self._due.get(delivery_id) is not None and self._due[delivery_id] <= datetime.now(UTC):
                self._due.pop(delivery_id, None)
            self._claimed.pop(delivery_id, None)
        if again is not None:
            self.offer(delivery_id, endpoint_id, again)

    async def _endpoint(self, org_id: str, endpoint_id: str) -> dict[str, Any] | None:
        """The endpoint as read at most `ENDPOINT_CACHE_SECONDS` ago: a disabled or deleted endpoint
        gets attempts for at most that long more, a rotated secret's predecessor still verifies.
        One missing or not active in the cached read is read again: an endpoint created since
        must not look deleted."""
        now = time.monotonic()
        hit = self._orgs.get(org_id)
        fresh = hit is None or now - hit[0] > ENDPOINT_CACHE_SECONDS
        if not fresh:
            endpoint = hit[1].get(endpoint_id)
            if endpoint is not None and endpoint.get("status") == "active":
                return endpoint
        hit = (now, await self.directory.endpoints(org_id))
        self._orgs[org_id] = hit
        if len(self._orgs) > 10_000:
            self._orgs.clear()
        return hit[1].get(endpoint_id)

    async def attempt(self, delivery_id: str) -> datetime | None:
        """One attempt if the delivery is due and ours; when its next attempt is due (None: done or not ours)."""
        now = datetime.now(UTC)
        entry = self._claimed.pop(delivery_id, None)
        if entry is None or not self.queue.still_mine(entry, now, self._lease_margin):
            entry = await self.queue.claim(delivery_id, now)
        if entry is None:
            return None  # not due, gone, or another replica holds it
        if "body" not in entry:  # written by an older version: read the delivery itself
            delivery = await self.deliveries.get(delivery_id)
            if delivery is None or delivery["status"] in FINAL:
                await self.queue.done(delivery_id)
                return None
            entry = {**queue_entry(delivery, entry["due_at"]), **{k: entry[k] for k in ("lease_boot",) if k in entry}}
        org_id = entry["organization_id"]
        endpoint = await self._endpoint(org_id, entry["endpoint_id"])
        if endpoint is None or endpoint.get("status") != "active":
            reason = "endpoint_deleted" if endpoint is None else "endpoint_disabled"
            await self.deliveries.end(delivery_id, reason)
            await self.queue.done(delivery_id)
            metrics.DELIVERIES_ENDED.labels(FAILED).inc()
            return None
        if not entry.get("attempted"):
            metrics.FIRST_ATTEMPT_SECONDS.observe(max(0.0, (now - entry["event_time"]).total_seconds()))
        result = await self.sender.send(
            endpoint["url"], secrets=active_secrets(endpoint, now), webhook_id=entry["webhook_id"],
            body=entry["body"], now=now,
        )
        outcome = metric_outcome(result)
        metrics.ATTEMPTS.labels(outcome).inc()
        metrics.ATTEMPT_SECONDS.observe(result.duration_ms / 1000)
        attempt = {"at": now, "response_status": result.status, "error": result.error, "duration_ms": result.duration_ms}
        attempts = entry.get("attempts_in_round", 0) + 1
        verdict = judge(result)
        next_at: datetime | None = None
        ended_reason = None
        if verdict is Verdict.SUCCEEDED:
            status = SUCCEEDED
        elif verdict is Verdict.ENDPOINT_GONE:
            status, ended_reason = FAILED, "endpoint_gone"
        else:
            delay = self.schedule.next_delay(attempts, honours_retry_after(result), self._rng)
            if delay is None:
                status = EXHAUSTED
            else:
                status, next_at = PENDING, datetime.now(UTC) + timedelta(seconds=delay)
        # The log first, then the queue: a crash between the two repeats an attempt (at least
        # once), it never loses one.
        await self.deliveries.record_attempt(delivery_id, attempt, status=status, next_attempt_at=next_at,
                                             attempts_in_round=attempts, ended_reason=ended_reason)
        if next_at is None:
            await self.queue.done(delivery_id)
            metrics.DELIVERIES_ENDED.labels(status).inc()
        else:
            await self.queue.reschedule(delivery_id, next_at, attempts_in_round=attempts, attempted=True)
        await self._endpoint_health(org_id, endpoint, verdict, now)
        return next_at

    async def _endpoint_health(self, org_id: str, endpoint: dict[str, Any], verdict: Verdict, now: datetime) -> None:
        if verdict is Verdict.SUCCEEDED:
            await self.directory.record_success(org_id, endpoint)
            return
        if verdict is Verdict.ENDPOINT_GONE:
            disabled, reason = await self.directory.disable(org_id, endpoint["endpoint_id"], "gone", now), "gone"
        else:
            disabled, reason = await self.directory.record_failure(org_id, endpoint, now, self.disable_after), "failing"
        if verdict is not Verdict.SUCCEEDED:
            self._orgs.pop(org_id, None)  # its failing_since or status just changed
        if disabled:
            metrics.ENDPOINTS_DISABLED.labels(reason).inc()
            log.warning("webhook endpoint disabled", extra={"organization_id": org_id, "status": reason})
            await self.on_disabled(org_id, endpoint, reason)
