"""Outbox relay: publishes unpublished stored events to Kafka in order, then marks them.

At-least-once by design: a crash between the broker's ack and the mark re-publishes
the same events (same CloudEvent id), which consumers drop by id or aggregate version.
"""

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry.trace import SpanKind
from pymongo.errors import PyMongoError

from infra.eventstore import EventStore
from infra.kafka import encode_event, event_headers
from infra.lease import Lease
from infra.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG
from infra.telemetry import context_from_carrier, current_trace_carrier, kafka_headers, tracer

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
    ) -> None:
        self.store = store
        self.producer_factory = producer_factory
        self.lease = lease
        self.service = service
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self._wake = asyncio.Event()
        self._stopping = False
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task | None = None
        store.on_append(self._wake.set)
        self.healthy = False

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
            try:
                published = 0
                if await self.lease.acquire():
                    published = await self.publish_batch()
                self.healthy = True
                backoff = self.poll_interval
                if published:
                    continue  # drain the backlog before sleeping
            except (KafkaError, OSError, asyncio.TimeoutError) as exc:
                self.healthy = False
                log.warning("relay cannot reach kafka", extra={"error_type": type(exc).__name__})
                await self._close_producer()
                backoff = min(backoff * 2, 5.0)
            except PyMongoError as exc:
                self.healthy = False
                log.warning("relay cannot reach the event store", extra={"error_type": type(exc).__name__})
                backoff = min(backoff * 2, 5.0)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            except asyncio.TimeoutError:
                pass

    async def publish_batch(self) -> int:
        pending = await self.store.unpublished(self.batch_size)
        OUTBOX_BACKLOG.labels(self.service).set(len(pending))
        if not pending:
            return 0
        producer = await self._ensure_producer()
        futures = []
        for doc in pending:
            event = doc["event"]
            with tracer(__name__).start_as_current_span(
                f"publish {event['type']}", context=context_from_carrier(doc.get("trace") or {}), kind=SpanKind.PRODUCER, record_exception=False
            ):
                headers = kafka_headers(current_trace_carrier()) + event_headers(event)
                key = (event.get("partitionkey") or event.get("subject") or doc["stream"]).encode()
                futures.append(
                    await producer.send(doc["topic"], encode_event(event), key=key, headers=headers)
                )
        await asyncio.gather(*futures)
        await self.store.mark_published([doc["_id"] for doc in pending])
        for doc in pending:
            EVENTS_PUBLISHED.labels(self.service, doc["topic"]).inc()
        return len(pending)

