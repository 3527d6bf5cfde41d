"""A live feed of events for this replica's in-memory read copies.

Not a consumer group: every replica must see every partition, and a copy that starts
empty needs nothing before the moment it starts, so the feed assigns itself all
partitions, starts at their end and never commits. Durable effects stay with the
consumer groups (infra/consumer.py); the feed only keeps memory current.

`trusts(loaded_at)` is the copies' permission to answer without the database: the
feed has been caught up with every partition as of a fetch response less than
`stale_after` seconds old, and the entry was loaded after the feed took its positions. Anything else (Kafka unreachable, a topic not created yet, still catching up)
makes the copies step aside and the checks read the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from infra.settings import PlatformSettings

log = logging.getLogger(__name__)

# handler(event as a dict, as published) for one event type; runs on the event loop, so cheap.
FeedHandler = Callable[[dict], None]


class LiveFeed:
    def __init__(self, settings: PlatformSettings, handlers: Mapping[str, tuple[str, FeedHandler]],
                 stale_after: float = 2.0) -> None:
        """handlers: event type -> (topic it travels on, handler)."""
        self.settings = settings
        self.handlers = {event_type: handler for event_type, (_, handler) in handlers.items()}
        self.topics = sorted({topic for topic, _ in handlers.values()})
        self.stale_after = stale_after
        self._caught_up_at = float("-inf")
        self._positioned_at = float("inf")
        self.failures = 0

    @property
    def live(self) -> bool:
        return time.monotonic() - self._caught_up_at < self.stale_after

    def trusts(self, loaded_at: float) -> bool:
        """May a copy loaded at `loaded_at` (monotonic) answer now?

        Only while live, and only if it was loaded after the feed's positions were
        settled: anything published before that was in the database when it was loaded,
        and anything after reaches the copy through the feed. (A reconnect starts at the
        end again, so what was loaded before it is not trusted any more.)
        """
        return loaded_at >= self._positioned_at and self.live

    async def run(self) -> None:
        """Follows the topics until cancelled, reconnecting after any failure."""
        while True:
            # Group-less with topics: aiokafka assigns every partition of them to this
            # consumer; without committed offsets it starts at the end ("latest").
            consumer = AIOKafkaConsumer(
                *self.topics, bootstrap_servers=self.settings.kafka_bootstrap_servers, group_id=None,
                enable_auto_commit=False, auto_offset_reset="latest", isolation_level="read_committed",
                fetch_max_wait_ms=250,
            )
            try:
                await consumer.start()
                await self._follow(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the feed must outlive outages
                self.failures += 1
                log.warning("live feed interrupted; reconnecting", extra={"error_type": type(exc).__name__})
                await asyncio.sleep(1.0)
            finally:
                self._caught_up_at = float("-inf")
                self._positioned_at = float("inf")
                try:
                    await consumer.stop()
                except KafkaError:
                    pass

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        partitions = await self._assigned(consumer)
        for tp in partitions:
            await consumer.position(tp)  # resolves "latest" now
        self._positioned_at = time.monotonic()
        while True:
            batches = await consumer.getmany(timeout_ms=250, max_records=500)
            for records in batches.values():
                for record in records:
                    self._dispatch(record)
            await self._check_caught_up(consumer, partitions)

    async def _assigned(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        # Topics are created in the background at start-up; wait until every one is assigned.
        while True:
            assigned = consumer.assignment()
            if assigned and {tp.topic for tp in assigned} == set(self.topics):
                return sorted(assigned)
            await asyncio.sleep(0.2)

    def _dispatch(self, record) -> None:
        event_type = next((v.decode() for k, v in record.headers or () if k == "ce_type"), None)
        if event_type is not None and event_type not in self.handlers:
            return  # skipped without parsing the body
        try:
            event = orjson.loads(record.value)
            handler = self.handlers.get(event.get("type"))
            if handler is not None:
                handler(event)
        except Exception as exc:  # noqa: BLE001 - a bad event must not stop the copies' feed
            # The consumer groups dead-letter it; here the copies only must not trust a
            # state they failed to update, so the handler is expected to drop it.
            log.warning("live feed skipped an event", extra={"error_type": type(exc).__name__})

    async def _check_caught_up(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        now_ms = time.time() * 1000
        oldest_fetch = now_ms
        for tp in partitions:
            end = consumer.last_stable_offset(tp)
            if end is None:
                end = consumer.highwater(tp)
            polled = consumer.last_poll_timestamp(tp)
            if end is None or polled is None:
                return
            if await consumer.position(tp) < end:
                return
            oldest_fetch = min(oldest_fetch, polled)
        # Caught up as of the oldest partition's fetch response, not as of now.
        self._caught_up_at = time.monotonic() - max(now_ms - oldest_fetch, 0.0) / 1000
