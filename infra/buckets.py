"""Pre-aggregated counters ("buckets") fed exactly once per source decision.

A read model of figures (denials per day, authorization decisions per day) cannot keep
one view per key the way infra/projection.py does: many sources (claims,
authorizations) add into one bucket, and a source's later event (a replacement, a
void, a second decision) must take back what it added before. So each source keeps a
small *marker* document: the aggregate version it reflects and its *contribution*
(bucket id -> field -> integer). An event turns into the source's next contribution;
the buckets receive the difference, new minus old, with `$inc`.

FerretDB v1 writes one document atomically and nothing across documents, so the steps
are ordered to survive a crash anywhere and a redelivery at any time:

1. the marker is written (compare-and-set on its version) with the new contribution
   *and* the pending difference;
2. each bucket gets its part in one guarded write: `$inc` plus a token field naming
   the source and version, where that token is not there yet (a retry of the same
   step finds the token and changes nothing);
3. the marker's pending difference is cleared; then the tokens are removed from the
   buckets (so a bucket does not grow with every source that ever touched it).

A redelivered event finds the marker at its version: nothing to do, or (after a crash
between 1 and 3) the pending difference is finished, each bucket still at most once.
Counters are integers (cents, seconds) so that `$inc` is exact.

FerretDB v1 applies an update as read, modify, write back, without isolation: two
concurrent `$inc` on one document lose one of them (measured: 200 concurrent
increments of one bucket left 86). So this process serialises its writes per bucket
(striped asyncio locks); the consumer runner handles different keys concurrently and
every claim of a day shares that day's buckets. Across processes nothing serialises
them: one process per analytics consumer group on FerretDB v1, and a rebuild while
that consumer is stopped (on MongoDB proper `$inc` is atomic and neither matters).

Buckets are read by `_id` only (FerretDB v1 pushes down nothing else): the caller
generates the ids a date range needs (`range_bucket_ids`): month buckets for the whole
months inside it, day buckets for the ragged edges, so a range of 400 days is at
most ~14 month reads plus ~60 day reads, and usually far fewer.
"""

from __future__ import annotations

import asyncio
import calendar
import weakref
import zlib
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from infra.consumer import TransientError
from infra.projection import compare_and_set

Contribution = dict[str, dict[str, int]]
"""bucket id -> counter field -> amount."""

ALL = "*"
"""The organisation id of buckets that add up every organisation (what an operator reads)."""


def day_id(organization_id: str, day: date) -> str:
    return f"{organization_id}:{day.isoformat()}"


def month_id(organization_id: str, day: date) -> str:
    return f"{organization_id}:{day.year:04d}-{day.month:02d}"


def day_and_month_ids(organization_id: str, day: date) -> list[str]:
    """The buckets one day's figures go to: the day and its month, for the organisation and for all."""
    return [f(org, day) for org in (organization_id, ALL) for f in (day_id, month_id)]


def range_bucket_ids(organization_id: str, start: date, end: date) -> list[str]:
    """Ids whose buckets together hold exactly the days start..end (inclusive), each day once."""
    ids: list[str] = []
    day = start
    while day <= end:
        last_of_month = day.replace(day=calendar.monthrange(day.year, day.month)[1])
        if day.day == 1 and last_of_month <= end:
            ids.append(month_id(organization_id, day))
            day = last_of_month + timedelta(days=1)
        else:
            ids.append(day_id(organization_id, day))
            day += timedelta(days=1)
    return ids


def difference(old: Mapping[str, Mapping[str, int]], new: Mapping[str, Mapping[str, int]]) -> Contribution:
    """new - old per bucket and field, zeros left out (pure)."""
    delta: Contribution = {}
    for bucket in set(old) | set(new):
        before, after = old.get(bucket, {}), new.get(bucket, {})
        fields = {f: after.get(f, 0) - before.get(f, 0) for f in set(before) | set(after)}
        fields = {f: v for f, v in fields.items() if v}
        if fields:
            delta[bucket] = fields
    return delta


def add(total: dict[str, int], bucket: Mapping[str, Any]) -> dict[str, int]:
    """Adds a bucket document's counters into `total` (bookkeeping fields skipped)."""
    for name, value in bucket.items():
        if name == "_id" or name.startswith("~") or not isinstance(value, int):
            continue
        total[name] = total.get(name, 0) + value
    return total


_STRIPES = 64
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[asyncio.Lock]] = weakref.WeakKeyDictionary()


def _lock(bucket_id: str) -> asyncio.Lock:
    """One of a fixed set of locks (bounded memory; unrelated buckets rarely share one),
    per event loop (an asyncio lock belongs to the loop it was first used on)."""
    locks = _LOCKS.setdefault(asyncio.get_running_loop(), [asyncio.Lock() for _ in range(_STRIPES)])
    return locks[zlib.crc32(bucket_id.encode()) % _STRIPES]


class BucketStore:
    """Markers and buckets of one read model (module docstring for the write order)."""

    def __init__(self, markers: AsyncCollection, buckets: AsyncCollection) -> None:
        self.markers = markers
        self.buckets = buckets

    async def marker(self, source_id: str) -> dict[str, Any] | None:
        return await self.markers.find_one({"_id": source_id})

    async def contribute(
        self, source_id: str, version: int, current: dict[str, Any] | None,
        contribution: Contribution, state: dict[str, Any] | None = None,
    ) -> None:
        """Moves the source from its marker `current` to `contribution` at `version`."""
        old = current.get("contribution", {}) if current else {}
        delta = difference(old, contribution)
        marker = {"_id": source_id, "version": version, "contribution": contribution, "state": state or {}}
        if delta:
            marker["pending"] = delta
        if not await compare_and_set(self.markers, current, marker, field="version"):
            raise TransientError("analytics marker changed concurrently")
        if delta:
            await self.finish(marker)

    async def finish(self, marker: dict[str, Any]) -> None:
        """Steps 2 and 3 for a marker with a pending difference; safe to repeat."""
        token_field = "~" + marker["_id"]
        token = marker["version"]
        for bucket_id, fields in sorted(marker["pending"].items()):
            guarded = {"_id": bucket_id, token_field: {"$ne": token}}
            change = {"$inc": fields, "$set": {token_field: token}}
            async with _lock(bucket_id):
                try:
                    await self.buckets.update_one(guarded, change, upsert=True)
                except DuplicateKeyError:
                    # The bucket exists: it has this token (done before a crash), or another
                    # process created it concurrently. Without upsert, the guard decides which.
                    await self.buckets.update_one(guarded, change)
        await self.markers.update_one(
            {"_id": marker["_id"], "version": token}, {"$unset": {"pending": ""}})
        for bucket_id in sorted(marker["pending"]):
            async with _lock(bucket_id):
                await self.buckets.update_one({"_id": bucket_id, token_field: token}, {"$unset": {token_field: ""}})

    async def read(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """The buckets with these ids that exist: one point read each (FerretDB v1 pushes down
        `_id` equality only; `$in` scans the collection)."""
        found = []
        for bucket_id in ids:
            doc = await self.buckets.find_one({"_id": bucket_id})
            if doc is not None:
                found.append(doc)
        return found

    async def clear(self) -> None:
        await self.markers.delete_many({})
        await self.buckets.delete_many({})
