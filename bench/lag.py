"""Consumer-group lag: how many messages each service's consumer group has not yet committed.

The claims part sees claim.processed on claims.events as soon as it is published, but
the services' own consumers (the claims status projection, the accumulators copy, ...)
may still be behind; their lag says so, and it is work that keeps the servers busy.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError


async def consumer_lag(bootstrap: str) -> dict[str, int]:
    """{group: messages behind, summed over its partitions}; {} if Kafka does not answer."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        await admin.start()
        await consumer.start()
        lag: dict[str, int] = {}
        for group in sorted(g[0] for g in await admin.list_consumer_groups()):
            committed = await admin.list_consumer_group_offsets(group)
            if not committed:
                continue
            ends = await consumer.end_offsets(list(committed))
            lag[group] = sum(max(ends[tp] - meta.offset, 0) for tp, meta in committed.items() if meta.offset >= 0)
        return lag
    except (KafkaError, OSError):
        return {}
    finally:
        await consumer.stop()
        await admin.close()
