"""Kafka client settings, the aiokafka producer and topic administration shared by every service.

The recovery-related settings of every client live here (values in PlatformSettings,
trade-offs in ADR 9), so that the relay's producer, the consumer runners and the faust
worker come back from a broker restart on the same schedule.
"""

import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from infra.settings import PlatformSettings

log = logging.getLogger(__name__)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def client_options(settings: PlatformSettings) -> dict:
    """What producers and consumers share: how long a request may take, how stale metadata may get."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "request_timeout_ms": _ms(settings.kafka_request_timeout_seconds),
        "retry_backoff_ms": _ms(settings.kafka_retry_backoff_seconds),
        "metadata_max_age_ms": _ms(settings.kafka_metadata_max_age_seconds),
    }


def consumer_options(settings: PlatformSettings) -> dict:
    """Group membership: a dead member is evicted after the session timeout, and a
    rebalance waits at most the rebalance timeout for members that have not rejoined
    (after a broker restart: the ones the coordinator remembers but that are gone)."""
    return {
        **client_options(settings),
        "session_timeout_ms": _ms(settings.kafka_session_timeout_seconds),
        "rebalance_timeout_ms": _ms(settings.kafka_session_timeout_seconds),
        "heartbeat_interval_ms": _ms(settings.kafka_heartbeat_interval_seconds),
    }


def faust_options(settings: PlatformSettings) -> dict:
    """The same schedule for a faust app (its defaults: 60 s session and rebalance timeouts,
    3 s heartbeats, 90 s requests, producer batches retried for 20 minutes)."""
    return {
        "broker_session_timeout": settings.kafka_session_timeout_seconds,
        "broker_rebalance_timeout": settings.kafka_session_timeout_seconds,
        "broker_heartbeat_interval": settings.kafka_heartbeat_interval_seconds,
        # faust requires request timeout >= session timeout.
        "broker_request_timeout": max(settings.kafka_request_timeout_seconds, settings.kafka_session_timeout_seconds),
        "consumer_metadata_max_age_ms": _ms(settings.kafka_metadata_max_age_seconds),
        "producer_metadata_max_age_ms": _ms(settings.kafka_metadata_max_age_seconds),
        "producer_request_timeout": settings.faust_producer_request_timeout_seconds,
    }


def create_producer(settings: PlatformSettings, client_id: str) -> AIOKafkaProducer:
    # Idempotent with acks=all: a retried send never duplicates or reorders within a partition.
    return AIOKafkaProducer(
        **client_options(settings),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
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
