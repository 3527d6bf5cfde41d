"""Writer and relay processes for the outbox crash tests; the tests kill them with SIGKILL.

    python -m tests.support.outbox_processes relay  --mongodb URI --db NAME --kafka BOOTSTRAP [--grace S]
    python -m tests.support.outbox_processes writer --mongodb URI --db NAME --topic T --streams N
        [--pause-max S] [--hang-after-intent]

The writer appends to N streams (stream names come from --prefix) in a loop, the way a
service does: load the stream, append the next version, reload on a ConcurrencyError.
--pause-max S holds each append between its intent and its commit for a random 0..S
seconds (a slow writer); --hang-after-intent writes one intent, prints "intent" and
never commits (a writer to kill between intent and commit). Each line on stdout is
one outcome ("committed <stream> <version>", "conflict ...") so a test can follow.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys

from pymongo import AsyncMongoClient

from contracts.envelope import new_event
from infra.eventstore import ConcurrencyError, EventStore
from infra.kafka import create_producer
from infra.lease import Lease
from infra.relay import OutboxRelay
from infra.settings import PlatformSettings


class PausingCommits:
    """Stands in for the store's commit inserts: waits before each one (between intent and commit)."""

    def __init__(self, inner, pause) -> None:
        self.inner = inner
        self.pause = pause

    async def insert(self, doc) -> None:
        await self.pause()
        await self.inner.insert(doc)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def run_writer(args) -> None:
    client = AsyncMongoClient(args.mongodb, tz_aware=True, retryWrites=False)
    store = EventStore(client[args.db], "outbox-test")
    if args.hang_after_intent:
        hang = asyncio.Event()

        async def pause() -> None:
            say("intent")
            await hang.wait()

        store._commits = PausingCommits(store._commits, pause)  # noqa: SLF001 - the point of the test
    elif args.pause_max:
        async def pause() -> None:
            await asyncio.sleep(random.uniform(0, args.pause_max))

        store._commits = PausingCommits(store._commits, pause)  # noqa: SLF001
    streams = [f"{args.prefix}-{i}" for i in range(args.streams)]

    async def keep_appending(stream: str) -> None:
        while True:
            version = len(await store.load(stream)) + 1
            event = new_event(source="/tests/outbox", type="test.appended", subject=stream,
                              data={"stream": stream, "version": version}, aggregateversion=version,
                              partitionkey=stream)
            try:
                await store.append(stream, args.topic, event)
                say(f"committed {stream} {version}")
            except ConcurrencyError:
                say(f"conflict {stream} {version}")

    await asyncio.gather(*(keep_appending(s) for s in streams))


async def run_relay(args) -> None:
    settings = PlatformSettings(kafka_bootstrap_servers=args.kafka, mongodb_uri=args.mongodb)
    client = AsyncMongoClient(args.mongodb, tz_aware=True, retryWrites=False)
    db = client[args.db]
    store = EventStore(db, "outbox-test")
    relay = OutboxRelay(
        store, lambda: create_producer(settings, "outbox-test"), Lease(db, "relay:outbox-test", ttl_seconds=args.lease),
        "outbox-test", commit_grace_seconds=args.grace,
    )
    relay.start()
    say("relay started")
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["writer", "relay"])
    parser.add_argument("--mongodb", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--kafka")
    parser.add_argument("--topic")
    parser.add_argument("--prefix", default="stream")
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--pause-max", type=float, default=0.0)
    parser.add_argument("--hang-after-intent", action="store_true")
    parser.add_argument("--grace", type=float, default=0.5)
    parser.add_argument("--lease", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(run_writer(args) if args.role == "writer" else run_relay(args))


if __name__ == "__main__":
    main()
