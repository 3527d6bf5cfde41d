"""Outbox relay: publishes committed events to Kafka in order, then forgets their intents.

At-least-once by design: a crash between the broker's ack and the forget re-publishes
the same events (same CloudEvent id), which consumers drop by id or aggregate version.
"""

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pymongo.errors import PyMongoError

from infra.eventstore import EventStore
from infra.lease import Lease
from infra.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG
from infra.publishing import event_record, publishing_span

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        store: EventStore,
        producer_factory,
        lease: Lease,
        service: str,
        poll_interval: float = 0.2,
        batch_size: int = 500,
        abandon_after_seconds: float = 30.0,
    ) -> None:
        self.store = store
        self.producer_factory = producer_factory
        self.lease = lease
        self.service = service
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.abandon_after = timedelta(seconds=abandon_after_seconds)
        self._wake = asyncio.Event()
        self._stopping = False
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task | None = None
        store.on_append(self._wake.set)
        self.healthy = False
        self._lease_checked_until = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-relay")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task:
            await self._task
        await self._close_producer()
        try:
            await self.lease.release()
        except PyMongoError:
            pass

    async def _close_producer(self) -> None:
        if self._producer is not None:
            try:
                await self._producer.stop()
            except KafkaError:
                pass
            self._producer = None

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self.producer_factory()
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _run(self) -> None:
        backoff = self.poll_interval
        while not self._stopping:
            # Cleared before reading the outbox: an append during this round wakes the next.
            self._wake.clear()
            try:
                published = 0
                if await self._leader():
                    published = await self.publish_batch()
                self.healthy = True
                backoff = self.poll_interval
                if published >= self.batch_size:
                    continue  # a full batch: more may be waiting, drain before sleeping
            except (KafkaError, OSError, asyncio.TimeoutError) as exc:
                self.healthy = False
                log.warning("relay cannot reach kafka", extra={"error_type": type(exc).__name__})
                await self._close_producer()
                backoff = min(backoff * 2, 5.0)
            except PyMongoError as exc:
                self.healthy = False
                log.warning("relay cannot reach the event store", extra={"error_type": type(exc).__name__})
                backoff = min(backoff * 2, 5.0)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            except asyncio.TimeoutError:
                pass

    async def _leader(self) -> bool:
        # Renew a third of the way into the lease, not on every wake-up: under load the
        # relay wakes per appended event and the renewal would double its database work.
        now = time.monotonic()
        if now < self._lease_checked_until:
            return True
        if await self.lease.acquire():
            self._lease_checked_until = now + self.lease.ttl.total_seconds() / 3
            return True
        return False

    async def publish_batch(self) -> int:
        intents = await self.store.pending(self.batch_size)
        OUTBOX_BACKLOG.labels(self.service).set(len(intents))
        if not intents:
            return 0
        committed = await asyncio.gather(*(self._committed_id(i) for i in intents))
        ready, abandoned = [], []
        now = datetime.now(UTC)
        for intent, event_id in zip(intents, committed, strict=True):
            if event_id == intent["event"]["id"]:
                ready.append(intent)
            elif now - _aware(intent["recorded_at"]) > self.abandon_after:
                abandoned.append(intent)  # its writer lost the race or died before committing
            else:
                break  # a writer is between intent and commit: keep the order, look again soon
        if ready:
            await self._publish(ready)
        await self.store.forget([i["_id"] for i in ready + abandoned])
        for intent in ready:
            EVENTS_PUBLISHED.labels(self.service, intent["topic"]).inc()
        return len(ready)

    async def _committed_id(self, intent: dict) -> str | None:
        if intent.get("committed"):
            return intent["event"]["id"]
        return await self.store.committed_event_id(intent["key"])

    async def _publish(self, intents: list[dict]) -> None:
        producer = await self._ensure_producer()
        futures = []
        for intent in intents:
            event = intent["event"]
            with publishing_span(event["type"], intent.get("trace") or {}) as carrier:
                record = event_record(event, carrier, fallback_key=str(intent["_id"]))
                futures.append(await producer.send(intent["topic"], record.value, key=record.key, headers=record.headers))
        await asyncio.gather(*futures)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
