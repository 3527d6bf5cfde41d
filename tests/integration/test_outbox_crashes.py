"""The outbox under kill -9: every committed event reaches Kafka, in stream order; nothing else does.

Real Kafka and FerretDB; writers and the relay run as separate processes (see
tests/support/outbox_processes.py) so that SIGKILL can land anywhere, including
between an event's intent and its commit.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import uuid
from collections import Counter, defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient, monitoring

from contracts.envelope import new_event
from infra.eventstore import ABORTED_INTENT, ConcurrencyError, EventStore
from infra.kafka import create_producer
from infra.lease import Lease
from infra.relay import OutboxRelay
from infra.settings import PlatformSettings
from tests.support.kafka import read_topic
from tests.support.outbox_processes import PausingCommits
from tests.support.stack import REPO
from tests.support.waiting import eventually

GRACE = 0.5


class Processes:
    """Writer and relay processes of one test; whatever is still running at the end is killed."""

    def __init__(self, mongodb_uri: str, db: str, kafka: str, topic: str) -> None:
        self.common = ["--mongodb", mongodb_uri, "--db", db]
        self.kafka = kafka
        self.topic = topic
        self.running: list[asyncio.subprocess.Process] = []

    async def _start(self, *args: str) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.support.outbox_processes", *args, *self.common,
            cwd=REPO, stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
        )
        self.running.append(proc)
        return proc

    async def relay(self, lease: float = 2.0) -> asyncio.subprocess.Process:
        return await self._start("relay", "--kafka", self.kafka, "--grace", str(GRACE), "--lease", str(lease))

    async def writer(self, *extra: str) -> asyncio.subprocess.Process:
        return await self._start("writer", "--topic", self.topic, *extra)

    async def kill(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            proc.kill()  # SIGKILL
        await proc.wait()
        self.running.remove(proc)

    async def kill_all(self) -> None:
        for proc in list(self.running):
            await self.kill(proc)


@pytest.fixture
async def outbox_world(infra_stack):
    suffix = uuid.uuid4().hex[:10]
    db_name, topic = f"outbox_test_{suffix}", f"outbox-test-{suffix}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra_stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    client = AsyncMongoClient(infra_stack.mongodb_uri, tz_aware=True)
    processes = Processes(infra_stack.mongodb_uri, db_name, infra_stack.kafka_bootstrap, topic)
    try:
        yield client[db_name], topic, processes
    finally:
        await processes.kill_all()
        await client.close()


def outbox_empty(db):
    async def probe():
        return await db["events_outbox"].count_documents({}) == 0

    return probe


async def test_no_committed_event_is_lost_when_writers_and_the_relay_are_killed(infra_stack, outbox_world, capsys):
    db, topic, processes = outbox_world
    relay = await processes.relay()
    rounds = 8
    for round_ in range(rounds):
        # A fast and a slow writer race on the same streams; another slow one has streams
        # of its own. The slow ones hold each append up to 1 s between intent and commit,
        # so kills (and the relay's grace) land on every step of an append.
        writers = [
            await processes.writer("--streams", "6", "--prefix", "shared"),
            await processes.writer("--streams", "6", "--prefix", "shared", "--pause-max", "1.0"),
            await processes.writer("--streams", "6", "--prefix", "solo", "--pause-max", "1.0"),
        ]
        await asyncio.sleep(random.uniform(2.0, 4.0))  # a random kill point, not a synchronisation
        for writer in writers:
            await processes.kill(writer)
        if round_ in (2, 5):
            await processes.kill(relay)
            relay = await processes.relay()

    await eventually(outbox_empty(db), timeout=90, interval=0.2, what="the relay to empty the outbox")
    stored = [doc async for doc in db["events"].find({})]
    committed = {doc["event"]["id"]: (doc["stream"], doc["version"]) for doc in stored if "event" in doc}
    tombstones = sum(1 for doc in stored if ABORTED_INTENT in doc)
    published = [(v["id"], v["data"]["stream"], v["data"]["version"])
                 for v, _ in await read_topic(infra_stack.kafka_bootstrap, topic) if isinstance(v, dict)]
    published_ids = {event_id for event_id, _, _ in published}

    with capsys.disabled():
        print(f"\noutbox kill test: {len(committed)} committed, {len(published)} published "
              f"({len(published) - len(published_ids)} republished), {tombstones} tombstones, "
              f"{len(committed.keys() - published_ids)} missing")
    assert len(committed) > 0
    assert committed.keys() - published_ids == set(), "committed events missing from Kafka"
    assert published_ids - committed.keys() == set(), "uncommitted events published"
    # Each stream's versions are contiguous in the store and first appear on Kafka in order.
    versions = defaultdict(list)
    for stream, version in committed.values():
        versions[stream].append(version)
    for stream, found in versions.items():
        assert sorted(found) == list(range(1, len(found) + 1)), stream
    first_seen = defaultdict(list)
    for _, stream, version in published:
        if version not in first_seen[stream]:
            first_seen[stream].append(version)
    for stream, order in first_seen.items():
        assert order == sorted(order), f"{stream} published out of order: {order}"


async def test_a_writer_killed_between_intent_and_commit_holds_the_relay_back_briefly(infra_stack, outbox_world, capsys):
    db, topic, processes = outbox_world
    await processes.relay()
    store = EventStore(db, "outbox-test")
    warm = new_event(source="/tests/outbox", type="test.appended", subject="warm", partitionkey="warm",
                     data={"stream": "warm", "version": 1}, aggregateversion=1)
    await store.append("warm", topic, warm)
    await wait_on_topic(infra_stack.kafka_bootstrap, topic, warm.id)  # the relay is up and connected

    writer = await processes.writer("--streams", "2", "--prefix", "dead", "--hang-after-intent")
    for _ in range(2):
        assert (await asyncio.wait_for(writer.stdout.readline(), timeout=30)).strip() == b"intent"
    await processes.kill(writer)

    killed_at = time.monotonic()
    event = new_event(source="/tests/outbox", type="test.appended", subject="alive", partitionkey="alive",
                      data={"stream": "alive", "version": 1}, aggregateversion=1)
    await store.append("alive", topic, event)
    await wait_on_topic(infra_stack.kafka_bootstrap, topic, event.id)
    stall = time.monotonic() - killed_at
    with capsys.disabled():
        print(f"\nrelay stall after a writer killed between intent and commit: {stall:.2f}s (grace {GRACE}s)")
    # Generous for a shared machine; the old 30 s abandonment window fails it.
    assert stall < 10
    assert await store.load("dead-0") == [] and await store.load("dead-1") == []
    await eventually(outbox_empty(db), timeout=30, what="the dead writer's intents to be discarded")


async def test_a_commit_that_lands_after_the_grace_is_refused_never_lost(infra_stack, outbox_world):
    db, topic, _ = outbox_world
    settings = PlatformSettings(kafka_bootstrap_servers=infra_stack.kafka_bootstrap, mongodb_uri=infra_stack.mongodb_uri)
    slow_store = EventStore(db, "outbox-test")
    release = asyncio.Event()

    async def until_released() -> None:
        await release.wait()

    slow_store._commits = PausingCommits(slow_store._commits, until_released)  # noqa: SLF001
    relay = OutboxRelay(EventStore(db, "outbox-test"), lambda: create_producer(settings, "outbox-test"),
                        Lease(db, "relay:outbox-test-inproc", ttl_seconds=2), "outbox-test", commit_grace_seconds=0.2)
    relay.start()
    try:
        late = new_event(source="/tests/outbox", type="test.appended", subject="late", partitionkey="late",
                         data={"stream": "late", "version": 1}, aggregateversion=1)
        appending = asyncio.create_task(slow_store.append("late", topic, late))

        async def tombstoned():
            return await db["events"].find_one({"_id": "late:0000000001", ABORTED_INTENT: {"$exists": True}})

        # However long the writer takes (here: until the relay gave up on it), its commit
        # either lands and is published, or is refused: never committed and dropped.
        await eventually(tombstoned, timeout=30, what="the relay to abort the late commit")
        release.set()
        with pytest.raises(ConcurrencyError):
            await appending
        assert await slow_store.load("late") == []

        # The version stays usable: the writer's retry (or anyone else) commits it.
        retry = new_event(source="/tests/outbox", type="test.appended", subject="late", partitionkey="late",
                          data={"stream": "late", "version": 1}, aggregateversion=1)
        await EventStore(db, "outbox-test").append("late", topic, retry)
        assert [e["id"] for e in await slow_store.load("late")] == [retry.id]
        await wait_on_topic(infra_stack.kafka_bootstrap, topic, retry.id)
        await eventually(outbox_empty(db), timeout=30, what="the outbox to empty")
        ids = [v["id"] for v, _ in await read_topic(infra_stack.kafka_bootstrap, topic) if isinstance(v, dict)]
        assert late.id not in ids
    finally:
        release.set()
        await relay.stop()


async def test_a_slow_writer_in_the_relays_own_process_is_waited_for(infra_stack, outbox_world):
    db, topic, _ = outbox_world
    settings = PlatformSettings(kafka_bootstrap_servers=infra_stack.kafka_bootstrap, mongodb_uri=infra_stack.mongodb_uri)
    store = EventStore(db, "outbox-test")

    async def slower_than_the_grace() -> None:
        await asyncio.sleep(1.0)

    store._commits = PausingCommits(store._commits, slower_than_the_grace)  # noqa: SLF001
    relay = OutboxRelay(store, lambda: create_producer(settings, "outbox-test"),
                        Lease(db, "relay:outbox-test-local", ttl_seconds=2), "outbox-test", commit_grace_seconds=0.2)
    relay.start()
    try:
        event = new_event(source="/tests/outbox", type="test.appended", subject="local", partitionkey="local",
                          data={"stream": "local", "version": 1}, aggregateversion=1)
        await store.append("local", topic, event)  # the writer is alive: not aborted
        await wait_on_topic(infra_stack.kafka_bootstrap, topic, event.id)
        assert await db["events"].count_documents({ABORTED_INTENT: {"$exists": True}}) == 0
    finally:
        await relay.stop()


async def wait_on_topic(bootstrap: str, topic: str, event_id: str, timeout: float = 60) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(3)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=50)
            for records in batches.values():
                if any(event_id.encode() in (r.value or b"") for r in records):
                    return
        raise AssertionError(f"event {event_id} not on {topic} after {timeout}s")
    finally:
        await consumer.stop()


class CommandCounter(monitoring.CommandListener):
    """Counts the commands a client sends (each is one FerretDB round trip)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def started(self, event) -> None:
        self.counts[event.command_name] += 1

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


async def test_round_trips_per_published_event(infra_stack, outbox_world, capsys):
    """Reported, not asserted: FerretDB commands per append (writer) and per published event (relay)."""
    db, topic, _ = outbox_world
    settings = PlatformSettings(kafka_bootstrap_servers=infra_stack.kafka_bootstrap, mongodb_uri=infra_stack.mongodb_uri)
    report = {}
    scenarios = (
        # (name, concurrent streams, relay running while appending, relay shares the writer's store)
        ("relay in another process, one writer at a time", 1, True, False),
        ("relay in another process, 50 concurrent writers", 50, True, False),
        ("relay in another process, backlog of 500 drained afterwards", 50, False, False),
        ("relay in the writers' process, one writer at a time", 1, True, True),
        ("relay in the writers' process, 50 concurrent writers", 50, True, True),
    )
    for scenario, concurrency, relay_first, shared in scenarios:
        writer_count, relay_count = CommandCounter(), CommandCounter()
        writer_client = AsyncMongoClient(infra_stack.mongodb_uri, tz_aware=True, event_listeners=[writer_count])
        relay_client = AsyncMongoClient(infra_stack.mongodb_uri, tz_aware=True, event_listeners=[relay_count])
        store = EventStore(writer_client[db.name], "outbox-test")
        relay_db = writer_client[db.name] if shared else relay_client[db.name]
        relay = OutboxRelay(store if shared else EventStore(relay_db, "outbox-test"),
                            lambda: create_producer(settings, "outbox-test"),
                            Lease(relay_db, f"relay:rt-{uuid.uuid4().hex[:6]}", ttl_seconds=10), "outbox-test")
        prefix = uuid.uuid4().hex[:6]
        try:
            if relay_first:
                relay.start()

            async def append_stream(i: int) -> None:
                stream = f"rt-{prefix}-{i}"
                for version in range(1, 500 // concurrency + 1):
                    await store.append(stream, topic, new_event(
                        source="/tests/outbox", type="test.appended", subject=stream, partitionkey=stream,
                        data={"stream": stream, "version": version}, aggregateversion=version))

            await asyncio.gather(*(append_stream(i) for i in range(concurrency)))
            appended = 500
            writer_commands = sum(writer_count.counts.values())
            if not relay_first:
                relay.start()
            await eventually(outbox_empty(db), timeout=120, interval=0.2, what="the relay to drain the outbox")
        finally:
            await relay.stop()
            await writer_client.close()
            await relay_client.close()
        ignored = ("ping", "hello", "isMaster", "endSessions")
        if shared:
            total = {k: v for k, v in writer_count.counts.items() if k not in ignored}
            report[scenario] = {"writer_and_relay_commands_per_event": round(sum(total.values()) / appended, 2),
                                "commands": total}
            continue
        relay_commands = {k: v for k, v in relay_count.counts.items() if k not in ignored}
        report[scenario] = {
            "writer_commands_per_append": round(writer_commands / appended, 2),
            "relay_commands_per_event": round(sum(relay_commands.values()) / appended, 2),
            "relay_commands": dict(relay_commands),
        }
    (REPO / ".local" / "test-stack" / "outbox-round-trips.json").write_text(json.dumps(report, indent=2) + "\n")
    with capsys.disabled():
        for scenario, numbers in report.items():
            print(f"\nFerretDB round trips, {scenario}: {numbers}")
