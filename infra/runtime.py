"""What every service process holds: clients, event store, relay, consumers.

Services declare their parts; this class starts them in order and stops them in
reverse on SIGTERM (uvicorn's lifespan), committing what is durable first.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from contracts import topics as topic_names
from infra.consumer import ConsumerRunner
from infra.eventstore import EventStore
from infra.kafka import create_producer, ensure_topics
from infra.lease import Lease
from infra.logging import configure_logging
from infra.mongo import create_client, ping, service_database
from infra.relay import OutboxRelay
from infra.settings import PlatformSettings
from infra.subscriptions import EventHandler, Subscriptions
from infra.telemetry import configure_tracing

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]


class ServiceRuntime:
    def __init__(self, settings: PlatformSettings, *, with_event_store: bool = True) -> None:
        self.settings = settings
        configure_logging(settings.service_name, settings.log_level)
        configure_tracing(settings.service_name, settings.otel_traces_exporter)
        self.mongo = create_client(settings)
        self.db = service_database(self.mongo, settings)
        self.store = EventStore(self.db, settings.service_name) if with_event_store else None
        self.relay = (
            OutboxRelay(
                self.store,
                self.producer_factory,
                Lease(self.db, f"relay:{settings.service_name}"),
                settings.service_name,
                poll_interval=settings.relay_poll_interval_seconds,
                commit_grace_seconds=settings.relay_commit_grace_seconds,
                max_backoff=settings.kafka_reconnect_max_seconds,
            )
            if self.store is not None
            else None
        )
        self.consumers: list[ConsumerRunner] = []
        self.on_start: list[Hook] = []
        self.background: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task] = []
        self._probe: AIOKafkaProducer | None = None

    def producer_factory(self) -> AIOKafkaProducer:
        return create_producer(self.settings, client_id=self.settings.service_name)

    def consumer(self, group_id: str, handlers: Mapping[str, EventHandler]) -> ConsumerRunner:
        """A consumer group for these event types; it reads the topics their contracts name."""
        subscriptions = Subscriptions(handlers)
        runner = ConsumerRunner(self.settings, group_id, subscriptions.topics, subscriptions, self.producer_factory)
        self.consumers.append(runner)
        return runner

    async def start(self) -> None:
        if self.store is not None:
            await self.store.ensure_indexes()
        for hook in self.on_start:
            await hook()
        # Kafka may be down at start (the outbox keeps accepting writes): create topics
        # in the background and let the relay and consumers reconnect on their own.
        self._tasks.append(asyncio.create_task(self._ensure_topics()))
        if self.relay is not None:
            self.relay.start()
        for runner in self.consumers:
            runner.start()
        for job in self.background:
            self._tasks.append(asyncio.create_task(job()))
        log.info("service started", extra={"port": self.settings.port})

    async def _ensure_topics(self) -> None:
        all_topics = list(topic_names.ALL) + [topic_names.dead_letter_topic(t) for t in topic_names.ALL]
        while True:
            try:
                await ensure_topics(self.settings, all_topics)
                return
            except (KafkaError, OSError, asyncio.TimeoutError):
                await asyncio.sleep(2.0)

    async def stop(self) -> None:
        for runner in self.consumers:
            await runner.stop()
        if self.relay is not None:
            await self.relay.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._probe is not None:
            try:
                await self._probe.stop()
            except KafkaError:
                pass
        await self.mongo.close()
        log.info("service stopped")

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(ping(self.mongo), timeout=2.0)
            checks["mongodb"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            checks["mongodb"] = f"unavailable: {type(exc).__name__}"
        try:
            await asyncio.wait_for(self._kafka_metadata(), timeout=2.0)
            checks["kafka"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["kafka"] = f"unavailable: {type(exc).__name__}"
            if self._probe is not None:
                probe, self._probe = self._probe, None
                asyncio.create_task(_quiet_stop(probe))
        return checks

    async def _kafka_metadata(self) -> None:
        if self._probe is None:
            probe = self.producer_factory()
            try:
                await probe.start()
            except BaseException:
                await _quiet_stop(probe)
                raise
            self._probe = probe
        ok = await self._probe.client.fetch_all_metadata()
        if ok is None:
            raise KafkaError("no metadata")


async def _quiet_stop(producer: AIOKafkaProducer) -> None:
    try:
        await producer.stop()
    except Exception:  # noqa: BLE001
        pass
