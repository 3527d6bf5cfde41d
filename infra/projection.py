"""Projections: read models built from topics, rebuildable from offset zero.

Live, a projection is an ordinary consumer group. A rebuild reads the topics from the
beginning up to the end offsets seen when it starts, with no group (so it never moves
the live group's offsets), through the very same handler. Handlers write each view
document together with the aggregate version it reflects, in one update, and ignore
events at or below that version: replays and rebuilds converge on the same documents.
"""

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from contracts.envelope import CloudEvent
from infra.consumer import is_transient
from infra.settings import PlatformSettings
from infra.subscriptions import Subscriptions


async def rebuild(settings: PlatformSettings, handler: Subscriptions) -> int:
    topics = handler.topics
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        isolation_level="read_committed",
    )
    await consumer.start()
    applied = 0
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=500, max_records=500)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end[tp]:
                        continue
                    try:
                        event = CloudEvent.model_validate(orjson.loads(record.value))
                    except (ValueError, ValidationError):
                        continue  # poison: the live consumer already dead-lettered it
                    try:
                        await handler(event, record)
                    except Exception as exc:  # noqa: BLE001
                        if is_transient(exc):
                            raise
                        continue  # poison for this handler: dead-lettered live as well
                    applied += 1
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return applied


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # noqa: SLF001 - aiokafka has no public refresh
    return consumer.partitions_for_topic(topic) or set()
