"""Consumer runner: at-least-once delivery made exactly-once in effect.

Offsets are committed only after the handler's effect is durable; handlers are
idempotent (they dedupe by event id or aggregate version), transient failures are
retried with tenacity, and a poison event is parked on the dead-letter topic with
its error in the headers so that the events behind it keep flowing.
"""

import asyncio
import time
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaError
from opentelemetry.trace import SpanKind
from pydantic import ValidationError
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, NotPrimaryError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

from contracts.envelope import CloudEvent
from contracts.topics import dead_letter_topic
from infra.kafka import consumer_options
from infra.metrics import DEAD_LETTERS, EVENTS_CONSUMED
from infra.publishing import dead_letter_headers, describe_error  # noqa: F401 - describe_error re-exported
from infra.settings import PlatformSettings
from infra.telemetry import carrier_from_kafka_headers, context_from_carrier, tracer

log = logging.getLogger(__name__)

Handler = Callable[[CloudEvent, ConsumerRecord], Awaitable[None]]


class TransientError(Exception):
    """Raised by handlers for conditions that will pass (a dependency not caught up yet)."""


def is_transient(exc: BaseException) -> bool:
    return isinstance(
        exc, (TransientError, AutoReconnect, ConnectionFailure, NetworkTimeout, NotPrimaryError, KafkaError, OSError, asyncio.TimeoutError)
    )


@dataclass(frozen=True)
class RetryPolicy:
    max_seconds: float = 30.0
    initial_wait: float = 0.05
    max_wait: float = 2.0


def decode(record: ConsumerRecord) -> CloudEvent:
    return CloudEvent.model_validate(orjson.loads(record.value))


class ConsumerRunner:
    def __init__(
        self,
        settings: PlatformSettings,
        group_id: str,
        topics: list[str],
        handler: Handler,
        producer_factory,
        retry: RetryPolicy = RetryPolicy(),
        auto_offset_reset: str = "earliest",
    ) -> None:
        self.settings = settings
        self.group_id = group_id
        self.topics = topics
        self.handler = handler
        self.producer_factory = producer_factory
        self.retry = retry
        self.auto_offset_reset = auto_offset_reset
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._dlq_producer = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.group_id}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            await self._task

    @property
    def running(self) -> bool:
        return self._consumer is not None and not self._stopping

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._consume()
            except Exception as exc:  # noqa: BLE001 - the runner must outlive outages
                level = logging.WARNING if is_transient(exc) else logging.ERROR
                log.log(level, "consumer interrupted; reconnecting",
                        extra={"group": self.group_id, "error_type": type(exc).__name__})
                await asyncio.sleep(self.settings.kafka_reconnect_max_seconds)
            finally:
                await self._close()

    async def _close(self) -> None:
        for closeable in (self._consumer, self._dlq_producer):
            if closeable is not None:
                try:
                    await closeable.stop()
                except KafkaError:
                    pass
        self._consumer = None
        self._dlq_producer = None

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            *self.topics,
            **consumer_options(self.settings),
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset=self.auto_offset_reset,
            isolation_level="read_committed",
        )
        self._consumer = consumer
        await consumer.start()
        self._dlq_producer = self.producer_factory()
        await self._dlq_producer.start()
        # Offsets are committed at most every commit interval (and before a clean stop),
        # not after every batch: each commit is a write to __consumer_offsets, and at a
        # few events per poll that was a visible share of the broker's CPU. What a crash
        # leaves uncommitted is redelivered, and handlers are idempotent.
        uncommitted, last_commit = 0, time.monotonic()
        while not self._stopping:
            batches = await consumer.getmany(timeout_ms=200, max_records=200)
            # Partitions are independent (one member's events share one), so they are
            # handled concurrently; within a partition, strictly in order.
            outcomes = await asyncio.gather(
                *(self._handle_in_order(records) for records in batches.values()), return_exceptions=True
            )
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            if failures:
                raise failures[0]  # nothing more committed: the rest is redelivered after reconnecting
            uncommitted += sum(len(records) for records in batches.values())
            if uncommitted and time.monotonic() - last_commit >= self.settings.consumer_commit_interval_seconds:
                # Every effect above is durable (or dead-lettered) before offsets move.
                await consumer.commit()
                uncommitted, last_commit = 0, time.monotonic()
        if uncommitted:
            await consumer.commit()

    async def _handle_in_order(self, records: list[ConsumerRecord]) -> None:
        """One partition's records: those with the same key (one member, one aggregate)
        strictly in order, different keys concurrently, so that one event's round trips
        do not hold up an unrelated one. Every topic is keyed by what must stay ordered."""
        by_key: dict[bytes | None, list[ConsumerRecord]] = {}
        for record in records:
            by_key.setdefault(record.key, []).append(record)
        if len(by_key) == 1:
            for record in records:
                await self._handle_record(record)
            return
        outcomes = await asyncio.gather(*(self._handle_each(group) for group in by_key.values()), return_exceptions=True)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            raise failures[0]

    async def _handle_each(self, records: list[ConsumerRecord]) -> None:
        for record in records:
            await self._handle_record(record)

    async def _handle_record(self, record: ConsumerRecord) -> None:
        try:
            event = decode(record)
        except (ValueError, ValidationError) as exc:
            await self._dead_letter(record, exc)
            return
        ctx = context_from_carrier(carrier_from_kafka_headers(record.headers))
        with tracer(__name__).start_as_current_span(
            f"consume {event.type}", context=ctx, kind=SpanKind.CONSUMER, record_exception=False,
            attributes={"messaging.destination.name": record.topic, "messaging.consumer.group.name": self.group_id},
        ):
            try:
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception(is_transient),
                    stop=stop_after_delay(self.retry.max_seconds),
                    wait=wait_exponential_jitter(multiplier=self.retry.initial_wait, max=self.retry.max_wait),
                    reraise=True,
                ):
                    with attempt:
                        await self.handler(event, record)
            except Exception as exc:  # noqa: BLE001 - anything left is poison for this handler
                if is_transient(exc) and not isinstance(exc, TransientError):
                    raise  # infrastructure is down: do not commit, reconnect and retry later
                await self._dead_letter(record, exc)
                return
        EVENTS_CONSUMED.labels(self.settings.service_name, self.group_id, record.topic, "ok").inc()

    async def _dead_letter(self, record: ConsumerRecord, exc: BaseException) -> None:
        topic = dead_letter_topic(record.topic)
        headers = dead_letter_headers(record.headers, exc, topic=record.topic, partition=record.partition,
                                      offset=record.offset, group=self.group_id)
        await self._dlq_producer.send_and_wait(topic, record.value, key=record.key, headers=headers)
        DEAD_LETTERS.labels(self.settings.service_name, self.group_id, record.topic).inc()
        EVENTS_CONSUMED.labels(self.settings.service_name, self.group_id, record.topic, "dead_lettered").inc()
        log.error(
            "event dead-lettered",
            extra={"group": self.group_id, "topic": record.topic, "partition": record.partition,
                   "offset": record.offset, "error_type": type(exc).__name__},
        )

