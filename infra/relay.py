"""Outbox relay: publishes committed events to Kafka in order, then forgets their intents.

At-least-once by design: a crash between the broker's ack and the forget re-publishes
the same events (same CloudEvent id), which consumers drop by id or aggregate version.

An intent whose commit is not there yet holds back the intents behind it (write order
is kept), but only for `commit_grace_seconds` from when this relay first saw it open;
then the relay aborts it with a tombstone (EventStore.abort, ADR 10): either the
tombstone wins and the writer's commit can never land, or the commit won and is
published. An append still running in this very process is not aborted that soon:
its writer is known to be alive (EventStore.writing_here). The grace is a performance knob, not a correctness one: too short and a
live writer whose commit is merely slow gets a ConcurrencyError (its command reloads
and retries); too long and a writer killed between intent and commit holds the outbox
up for that long. It is measured on this process's monotonic clock, never compared
with a writer's.
"""

import asyncio
import logging
import time

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pymongo.errors import PyMongoError

from infra.eventstore import EventStore, Outcome
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
        commit_grace_seconds: float = 0.5,
        max_backoff: float = 1.0,
        local_writer_patience_seconds: float = 30.0,
    ) -> None:
        self.store = store
        self.producer_factory = producer_factory
        self.lease = lease
        self.service = service
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.commit_grace = commit_grace_seconds
        # A writer in this process is known to be alive, so it gets far longer than the
        # grace: only a call that hangs is ever aborted (which is safe, only slower).
        self.local_writer_patience = local_writer_patience_seconds
        # The longest the relay sleeps between attempts while Kafka or MongoDB is down,
        # so also the most it lags behind a broker that came back.
        self.max_backoff = max_backoff
        # intent id -> when this relay first found its slot empty (monotonic seconds)
        self._open_since: dict[str, float] = {}
        self._next_grace_expiry: float | None = None
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
                backoff = min(backoff * 2, self.max_backoff)
            except PyMongoError as exc:
                self.healthy = False
                log.warning("relay cannot reach the event store", extra={"error_type": type(exc).__name__})
                backoff = min(backoff * 2, self.max_backoff)
            timeout = backoff
            if self._next_grace_expiry is not None:
                # Wake when a held-back intent's grace ends, not a whole poll later.
                timeout = max(0.0, min(timeout, self._next_grace_expiry - time.monotonic()))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
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
        self._next_grace_expiry = None
        if not intents:
            self._open_since.clear()
            return 0
        resolutions = await asyncio.gather(*(self.store.resolve(i) for i in intents))
        now = time.monotonic()
        open_since = {}
        ready, settled = [], []  # settled: can never be committed, nothing to publish
        held_back = False  # an open intent ahead: publishing what follows would reorder
        for intent, resolution in zip(intents, resolutions, strict=True):
            if resolution.outcome is Outcome.OPEN:
                seen = open_since[intent["_id"]] = self._open_since.get(intent["_id"], now)
                patience = self.local_writer_patience if self.store.writing_here(intent["_id"]) else self.commit_grace
                if now - seen < patience:
                    held_back = True
                    expiry = seen + patience
                    self._next_grace_expiry = min(self._next_grace_expiry or expiry, expiry)
                    continue
                resolution = await self.store.abort(intent, resolution.slot)
                if resolution.outcome is Outcome.OPEN:  # another writer took the slot meanwhile
                    open_since[intent["_id"]] = seen
                    held_back = True
                    self._next_grace_expiry = now
                    continue
            if resolution.outcome is Outcome.COMMITTED:
                if not held_back:
                    ready.append(intent)
            else:
                settled.append(intent)  # its writer lost the race or was aborted
        self._open_since = open_since
        if ready:
            await self._publish(ready)
        await self.store.forget([i["_id"] for i in ready + settled])
        for intent in ready:
            EVENTS_PUBLISHED.labels(self.service, intent["topic"]).inc()
        return len(ready)

    async def _publish(self, intents: list[dict]) -> None:
        producer = await self._ensure_producer()
        futures = []
        for intent in intents:
            event = intent["event"]
            with publishing_span(event["type"], intent.get("trace") or {}) as carrier:
                record = event_record(event, carrier, fallback_key=str(intent["_id"]))
                futures.append(await producer.send(intent["topic"], record.value, key=record.key, headers=record.headers))
        await asyncio.gather(*futures)

