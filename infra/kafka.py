"""aiokafka producer and topic administration shared by every service."""

import logging

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from contracts.envelope import CloudEvent
from infra.settings import PlatformSettings

log = logging.getLogger(__name__)


def create_producer(settings: PlatformSettings, client_id: str) -> AIOKafkaProducer:
    # Idempotent with acks=all: a retried send never duplicates or reorders within a partition.
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        request_timeout_ms=15000,
    )


async def ensure_topics(settings: PlatformSettings, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if not missing:
            return
        new = [
            NewTopic(
                name=t,
                num_partitions=settings.kafka_topic_partitions,
                replication_factor=settings.kafka_topic_replication_factor,
                topic_configs={"min.insync.replicas": str(min(2, settings.kafka_topic_replication_factor))},
            )
            for t in missing
        ]
        try:
            await admin.create_topics(new)
        except TopicAlreadyExistsError:
            pass  # another service created it first
    finally:
        await admin.close()


def encode_event(event: CloudEvent | dict) -> bytes:
    body = event.to_json_dict() if isinstance(event, CloudEvent) else event
    return orjson.dumps(body)


def event_headers(event: dict) -> list[tuple[str, bytes]]:
    # Binary-mode-like hints so routers and the DLQ tooling need not parse bodies.
    return [("ce_type", event["type"].encode()), ("ce_id", event["id"].encode())]
