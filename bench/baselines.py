"""Raw baselines on the same servers as the pipeline, with messages/documents of the pipeline's size.

Kafka: the services' own producer settings (infra.kafka.create_producer: idempotent,
acks=all, linger 2 ms) sending in windows of 500 like the outbox relay, then a
group-less consumer reading everything back; plus one-at-a-time send_and_wait.
MongoDB: the services' client settings (infra.mongo.create_client), single-document
inserts of a copy of a real stored claim.received event into a collection with the
event store's indexes, sequentially and at each concurrency of the claims levels.
"""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from datetime import UTC, datetime

import bson
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo.errors import PyMongoError

from bench import claims as claims_bench
from bench.context import Context, log
from bench.load import closed_loop
from bench.stackctl import DATABASE_PREFIX
from bench.stats import CpuMeter, Latencies, top_cpu
from contracts import topics
from infra.eventstore import EventStore
from infra.kafka import create_producer
from infra.mongo import create_client
from infra.settings import PlatformSettings
from tests.support.kafka import events_about

RELAY_WINDOW = 500  # OutboxRelay's batch size


async def ensure_samples(ctx: Context) -> None:
    """Without a claims run before (--only baselines): submit one claim and take its sizes from it."""
    if "received_message" in ctx.samples and "stored_event" in ctx.samples:
        return
    org, members = await claims_bench.setup_org_with_members(ctx, 1)
    client = await ctx.client_for(org, connections=4)
    try:
        await claims_bench.wait_until_claims_knows(client, org, members)
        response = await client.post("/v1/claims", json=claims_bench.claim_for(org, members[0], 1),
                                     headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
        response.raise_for_status()
        claim_id = response.json()["claim_id"]
        deadline = time.monotonic() + 30
        received = []
        while not received and time.monotonic() < deadline:
            received = [e for e in await events_about(ctx.stack.bootstrap, topics.CLAIMS, claim_id)
                        if e["type"] == "claim.received"]  # fmt: skip
            await asyncio.sleep(0.2)
        if not received:
            raise RuntimeError("claim.received did not reach claims.events within 30 s")
        value = orjson.dumps(received[0])  # the services encode events with orjson: the same bytes
        headers = [("traceparent", b"00-" + b"0" * 32 + b"-" + b"0" * 16 + b"-01"),
                   ("ce_type", b"claim.received"), ("ce_id", str(uuid.uuid4()).encode())]  # fmt: skip
        ctx.samples.setdefault("received_message", (value, headers, members[0]["member_id"].encode()))
        await claims_bench.capture_stored_event(ctx)
    finally:
        await client.aclose()
        await org.client.aclose()


async def kafka(ctx: Context) -> dict:
    p = ctx.profile
    value, headers, key = ctx.samples["received_message"]
    key = key or b"M0000000000"
    settings = PlatformSettings(kafka_bootstrap_servers=ctx.stack.bootstrap)
    topic = f"bench.baseline.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=ctx.stack.bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        brokers = len((await admin.describe_cluster())["brokers"])
        rf = min(3, brokers)
        await admin.create_topics([NewTopic(topic, num_partitions=settings.kafka_topic_partitions, replication_factor=rf,
                                            topic_configs={"min.insync.replicas": str(min(2, rf))})])  # fmt: skip
        producer = create_producer(settings, client_id="bench-baseline")
        await producer.start()
        try:
            # Partition leaders of a new topic take a moment; the first send waits for them.
            await producer.send_and_wait(topic, value, key=key, headers=headers)
            n = p.kafka_messages
            before = ctx.cpu.snapshot()
            started = time.perf_counter()
            for window in range(0, n, RELAY_WINDOW):
                futures = [await producer.send(topic, value, key=key, headers=headers)
                           for _ in range(min(RELAY_WINDOW, n - window))]  # fmt: skip
                await asyncio.gather(*futures)
            produce_s = time.perf_counter() - started
            produce_cpu = CpuMeter.delta(before, ctx.cpu.snapshot())

            one_by_one = Latencies()
            started = time.perf_counter()
            for _ in range(p.kafka_sequential_messages):
                t0 = time.perf_counter()
                await producer.send_and_wait(topic, value, key=key, headers=headers)
                one_by_one.record(time.perf_counter() - t0)
            sequential_s = time.perf_counter() - started
        finally:
            await producer.stop()

        total = n + 1 + p.kafka_sequential_messages
        consumer = AIOKafkaConsumer(bootstrap_servers=ctx.stack.bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, i) for i in range(settings.kafka_topic_partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            before = ctx.cpu.snapshot()
            started = time.perf_counter()
            seen = 0
            while seen < total and time.perf_counter() - started < 120:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                seen += sum(len(records) for records in batches.values())
            consume_s = time.perf_counter() - started
            consume_cpu = CpuMeter.delta(before, ctx.cpu.snapshot())
        finally:
            await consumer.stop()
        with_headers = len(value) + len(key) + sum(len(k) + len(v) for k, v in headers)
        out = {
            "topic_partitions": settings.kafka_topic_partitions,
            "replication_factor": rf,
            "message_bytes": len(value),
            "message_bytes_with_key_and_headers": with_headers,
            "messages": n,
            "produce_per_s": round(n / produce_s, 1),
            "produce_mb_per_s": round(n * with_headers / produce_s / 1e6, 2),
            "consumed": seen,
            "consume_per_s": round(seen / consume_s, 1),
            # one message's trip through Kafka as a rate: N / (produce time + consume time)
            "produce_and_consume_per_s": round(n / (produce_s + consume_s * n / max(seen, 1)), 1),
            "send_and_wait_one_by_one_per_s": round(p.kafka_sequential_messages / sequential_s, 1),
            "send_and_wait_latency": one_by_one.summary(),
            "produce_cpu": produce_cpu,
            "consume_cpu": consume_cpu,
        }
        log(f"baselines: kafka {out['produce_per_s']} produced/s, {out['consume_per_s']} consumed/s "
            f"({len(value)} B values), one-by-one {out['send_and_wait_one_by_one_per_s']}/s; "
            f"produce cores: {top_cpu(produce_cpu)}")  # fmt: skip
        return out
    finally:
        try:
            await admin.delete_topics([topic])
        except Exception:  # noqa: BLE001 - best effort clean-up
            pass
        await admin.close()


async def mongo(ctx: Context) -> dict:
    p = ctx.profile
    template = copy.deepcopy(ctx.samples["stored_event"])
    client = create_client(PlatformSettings(mongodb_uri=ctx.stack.mongodb_uri))
    db = client[f"{DATABASE_PREFIX}baseline"]
    store = EventStore(db, "bench-baseline", collection=f"events_{uuid.uuid4().hex[:8]}")
    await store.ensure_indexes()  # the same indexes as every service's event store
    errors: dict[str, int] = {}

    async def insert(n: int) -> int:
        doc = dict(template)
        event_id = str(uuid.uuid4())
        doc.update(_id=event_id, stream=f"claim-{event_id}", version=1, recorded_at=datetime.now(UTC),
                   event={**template["event"], "id": event_id})  # fmt: skip
        try:
            await store.events.insert_one(doc)
        except PyMongoError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return 500
        return 200

    try:
        await insert(0)
        out: dict = {"document_bytes": len(bson.encode(template)), "runs": []}
        # Sequential, then every concurrency the claims levels use (the best one is known only later).
        for c in sorted({1, *ctx.profile.levels}):
            before = ctx.cpu.snapshot()
            result = await closed_loop(insert, c, seconds=p.mongo_seconds)
            cpu = CpuMeter.delta(before, ctx.cpu.snapshot())
            out["runs"].append({**result.as_dict(), "cpu": cpu})
            log(f"baselines: mongo insert_one c={c:<3} {result.rate:7.1f} inserts/s, p50 "
                f"{result.outcomes.latency.summary()['p50_ms']} ms; cores: {top_cpu(cpu)}")  # fmt: skip
        out["errors"] = errors
        return out
    finally:
        try:
            await client.drop_database(db.name)
        except PyMongoError:
            pass
        await client.close()


async def run(ctx: Context) -> dict:
    out: dict = {}
    ctx.results["baselines"] = out
    await ensure_samples(ctx)
    out["kafka"] = await kafka(ctx)
    out["mongo"] = await mongo(ctx)
    return out
