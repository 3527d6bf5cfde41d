"""Buckets on FerretDB under concurrency: many sources adding to the same buckets at once (their
parts go in shared writes), some redelivered after a crash left their difference pending and
part of their buckets written, some redelivered when done: every count exactly once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

from pymongo import AsyncMongoClient

from infra.buckets import BucketStore, _Part, range_ids, spread


async def test_concurrent_sources_retries_and_redeliveries_count_once(infra_stack):
    client = AsyncMongoClient(infra_stack.mongodb_uri, tz_aware=True, retryWrites=False)
    db = client[f"test_buckets_{uuid.uuid4().hex[:6]}"]
    store = BucketStore(db["markers"], db["buckets"])
    day = date(2025, 6, 7)
    sources = [f"claim-{n}" for n in range(120)]

    def contribution(n: int):
        return spread(f"org{n % 3}", day, {"c": {"n": 1, "a": 100 + n}})

    async def first(n: int, source: str) -> None:
        await store.contribute(source, 1, await store.marker(source), contribution(n))

    try:
        await asyncio.gather(*(first(n, s) for n, s in enumerate(sources)))
        # Crashes: markers written with their pending difference (step 1), some of the buckets
        # written too by the process that died (another store: its settled tokens are lost with it).
        crashed = [f"claim-crash-{n}" for n in range(10)]
        dead = BucketStore(db["markers"], db["buckets"])
        for n, source in enumerate(crashed, start=2000):
            pending = contribution(n)
            await db["markers"].insert_one({"_id": source, "version": 1, "contribution": pending, "state": {},
                                            "pending": pending})
            for bucket_id in sorted(pending)[: n % 4]:
                await dead._write_one(bucket_id, _Part("~" + source, 1, pending[bucket_id]), {})  # noqa: SLF001

        async def redelivered(source: str) -> None:
            marker = await store.marker(source)  # what the projections' handlers do at a known version
            if "pending" in marker:
                await store.finish(marker)

        late = [f"claim-late-{n}" for n in range(30)]
        await asyncio.gather(
            *(redelivered(s) for s in crashed),
            *(redelivered(s) for s in sources[:40]),  # finished before: nothing to do
            *(first(n, s) for n, s in enumerate(late, start=1000)),
        )
        everyone = sources + late + crashed
        numbers = list(range(120)) + list(range(1000, 1030)) + list(range(2000, 2010))
        (bucket,) = await store.read(range_ids("*", day, day, "c"))
        assert bucket[f"{day.day:02d}|n"] == len(everyone)
        assert bucket[f"{day.day:02d}|a"] == sum(100 + n for n in numbers)
        for org in range(3):
            (own,) = await store.read(range_ids(f"org{org}", day, day, "c"))
            assert own[f"{day.day:02d}|n"] == sum(1 for n in numbers if n % 3 == org)
        # A second decision of some sources replaces their contribution: the difference, once.
        async def withdrawn(source: str) -> None:
            await store.contribute(source, 2, await store.marker(source), {})

        await asyncio.gather(*(withdrawn(s) for s in sources[:10]))
        (bucket,) = await store.read(range_ids("*", day, day, "c"))
        assert bucket[f"{day.day:02d}|n"] == len(everyone) - 10
        assert not any(m.get("pending") for m in await db["markers"].find({}).to_list(None))
    finally:
        await client.drop_database(db.name)
        await client.close()
