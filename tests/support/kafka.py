"""An independent reader of the platform's topics (not the services' code)."""

from __future__ import annotations

import json

from aiokafka import AIOKafkaConsumer, TopicPartition


async def read_topic(bootstrap: str, topic: str) -> list[tuple[dict | bytes, dict]]:
    """Every message on the topic from offset zero up to its current end: (value, headers)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer._client.force_metadata_update()  # noqa: SLF001
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out: list[tuple[dict | bytes, dict]] = []
        pending = {tp for tp in tps if end[tp] > 0}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < end[tp]:
                        try:
                            value: dict | bytes = json.loads(record.value)
                        except ValueError:
                            value = record.value
                        out.append((value, {k: v for k, v in (record.headers or ())}))
            for tp in list(pending):
                if await consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
        return out
    finally:
        await consumer.stop()


async def events_about(bootstrap: str, topic: str, subject: str) -> list[dict]:
    return [v for v, _ in await read_topic(bootstrap, topic) if isinstance(v, dict) and v.get("subject") == subject]
