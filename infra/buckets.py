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
3. the marker's pending difference is cleared; the tokens are then removed from the
   buckets by the next write to each (so a bucket does not grow with every source
   that ever touched it, and each event costs one command per bucket).

A redelivered event finds the marker at its version: nothing to do, or (after a crash
between 1 and 3) the pending difference is finished, each bucket still at most once.
Counters are integers (cents, seconds) so that `$inc` is exact.

FerretDB v1 applies an update as read, modify, write back, without isolation: two
concurrent `$inc` on one document lose one of them (measured: 200 concurrent
increments of one bucket left 86). So this process serialises its writes per bucket
(infra/document_locks.py); the consumer runner handles different keys concurrently and
every claim of a day shares that day's buckets. Across processes nothing serialises
them: one process per analytics consumer group on FerretDB v1, and a rebuild while
that consumer is stopped (on MongoDB proper `$inc` is atomic and neither matters).

How a bucket is stored is this module's business: a counter "07|n" is kept as the field
`n` of a sub-document `07` (one per day of a month bucket, per month of a year bucket),
and read back flat. FerretDB v1 spends more on a top-level field than on one in a sub-document (measured: a
document of 3,000 flat counters 60 ms, the same nested by day 24 ms), and a month's
procedure-code bucket holds thousands of counters.

Buckets are read by `_id` only (FerretDB v1 pushes down nothing else, and `$in`
scans the collection: 9 s for 10 ids among 5,000 documents). So an organisation's
counters are kept twice: per month, keyed by day ("07|n": lines on the 7th), and per
year, keyed by month ("03|n"): whole months of a range come from the year buckets,
its ragged ends from two month buckets, and a range of 400 days is at most 4 reads. A read model may split a
month into a few buckets by dimension (`<org>:<YYYY-MM>:<dimension>`) so that a query
reads only the counters it reports.
"""

from __future__ import annotations

import asyncio
import calendar
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from infra.consumer import TransientError
from infra.document_locks import document_lock
from infra.projection import compare_and_set

Contribution = dict[str, dict[str, int]]
"""bucket id -> counter field -> amount."""

ALL = "*"
"""The organisation id of buckets that add up every organisation (what an operator reads)."""


def spread(organization_id: str, day: date, counters: Mapping[str, Mapping[str, int]]) -> Contribution:
    """One day's counters (per dimension) as the buckets hold them: in the month's bucket under
    the day ("07|n"), in the year's under the month ("03|n"); for the organisation and for all."""
    out: Contribution = {}
    for org in (organization_id, ALL):
        for dim, fields in counters.items():
            out[f"{org}:{day.year:04d}-{day.month:02d}:{dim}"] = {f"{day.day:02d}|{k}": v for k, v in fields.items()}
            out[f"{org}:{day.year:04d}:{dim}"] = {f"{day.month:02d}|{k}": v for k, v in fields.items()}
    return out


def _months(start: date, end: date) -> Iterator[tuple[int, int]]:
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _whole(year: int, month: int, start: date, end: date) -> bool:
    return date(year, month, 1) >= start and date(year, month, calendar.monthrange(year, month)[1]) <= end


def range_ids(organization_id: str, start: date, end: date, dimension: str) -> list[str]:
    """The buckets that hold the days start..end (inclusive): the year buckets of the whole
    months inside it, the month buckets of the ragged months at its ends. At most 4 for a
    range of 400 days (2 years, 2 edge months), usually 1 to 3."""
    ids: list[str] = []
    for year, month in _months(start, end):
        bucket = (f"{organization_id}:{year:04d}:{dimension}" if _whole(year, month, start, end)
                  else f"{organization_id}:{year:04d}-{month:02d}:{dimension}")
        if bucket not in ids:
            ids.append(bucket)
    return ids


def in_range(bucket: Mapping[str, Any], start: date, end: date) -> Iterator[tuple[date, str, int]]:
    """(day, counter, value) of a bucket's counters inside start..end: a month bucket's days
    in the range, a year bucket's whole months in it (dated the 1st), never both for one month."""
    period = bucket["_id"].split(":")[-2]
    for name, value in bucket.items():
        if name == "_id" or name.startswith("~") or not isinstance(value, int) or not value:
            continue
        part, _, counter = name.partition("|")
        if len(period) == 4:
            year, month = int(period), int(part)
            if _whole(year, month, start, end):
                yield date(year, month, 1), counter, value
        else:
            year, month = map(int, period.split("-"))
            day = date(year, month, int(part))
            if start <= day <= end and not _whole(year, month, start, end):
                yield day, counter, value


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


def _escape(name: str) -> str:
    """A counter name as a field name inside its period's sub-document: no dots, no leading `$`."""
    return name.replace("%", "%25").replace(".", "%2E").replace("$", "%24")


def _unescape(name: str) -> str:
    return name.replace("%24", "$").replace("%2E", ".").replace("%25", "%")


def stored_paths(fields: Mapping[str, int]) -> dict[str, int]:
    """Counters ("07|n") as the update paths of their stored place ("07.n")."""
    out: dict[str, int] = {}
    for name, value in fields.items():
        period, _, counter = name.partition("|")
        out[f"{period}.{_escape(counter)}"] = value
    return out


def flattened(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A stored bucket as the domain reads it: sub-document counters back to "07|n"."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, Mapping):
            for counter, amount in value.items():
                out[f"{key}|{_unescape(counter)}"] = amount
        else:
            out[key] = value
    return out


@dataclass
class _Part:
    """One source's difference for one bucket, waiting to be written."""

    token_field: str
    token: int
    fields: Mapping[str, int]
    done: bool = False


class BucketStore:
    """Markers and buckets of one read model (module docstring for the write order)."""

    def __init__(self, markers: AsyncCollection, buckets: AsyncCollection) -> None:
        self.markers = markers
        self.buckets = buckets
        # Tokens of sources whose marker is settled, per bucket: removed by the next write
        # to that bucket rather than by a write of their own (one command per bucket and
        # event). What a crash leaves behind is a few fields nobody reads.
        self._settled: dict[str, dict[str, int]] = {}
        self._waiting: dict[str, list[_Part]] = {}

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
        outcomes = await asyncio.gather(
            *(self._add_guarded(bucket_id, _Part(token_field, token, fields))
              for bucket_id, fields in sorted(marker["pending"].items())),
            return_exceptions=True)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            raise failures[0]  # the marker keeps its pending difference: a retry finishes it
        await self.markers.update_one(
            {"_id": marker["_id"], "version": token}, {"$unset": {"pending": ""}})
        for bucket_id in marker["pending"]:
            self._settle(bucket_id, {token_field: token})

    async def _add_guarded(self, bucket_id: str, part: _Part) -> None:
        """One source's part of one bucket, once. Parts of other sources waiting for the same
        bucket go in the same write (group commit): when claims of one day are decided
        concurrently, every one of them adds to that day's buckets, and one command per bucket
        and source was most of the projection's cost. The lock holder takes every part queued
        so far; a part taken by another holder is done when its owner gets the lock."""
        self._waiting.setdefault(bucket_id, []).append(part)
        async with document_lock(self.buckets.full_name, bucket_id):
            if part.done:
                return
            parts = self._waiting.pop(bucket_id, [])
            # One part per source in a write (its guard is one field): a second part of the same
            # source waits for its owner, whose own guarded write then finds the token.
            unique: dict[str, _Part] = {part.token_field: part}
            for p in parts:
                unique.setdefault(p.token_field, p)
            later = [p for p in parts if unique[p.token_field] is not p]
            if later:
                self._waiting.setdefault(bucket_id, []).extend(later)
            parts = list(unique.values())
            try:
                await self._write(bucket_id, parts)
            except BaseException:
                # The others' owners are still waiting for the lock: they write their own parts.
                others = [p for p in parts if p is not part and not p.done]
                if others:
                    self._waiting.setdefault(bucket_id, [])[:0] = others
                raise

    async def _write(self, bucket_id: str, parts: list[_Part]) -> None:
        settled = self._settled.pop(bucket_id, {})
        for part in parts:
            settled.pop(part.token_field, None)
        try:
            if len(parts) > 1:
                try:
                    if await self._update(bucket_id, parts, settled, upsert=True):
                        return
                except DuplicateKeyError:
                    pass  # exists, and one of the tokens is there (a retry) or another process made it
                settled_once = settled
                for part in parts:  # one by one: each part's own guard decides
                    await self._write_one(bucket_id, part, settled_once)
                    settled_once = {}
                return
            await self._write_one(bucket_id, parts[0], settled)
        except BaseException:
            self._settle(bucket_id, settled)
            raise

    async def _write_one(self, bucket_id: str, part: _Part, settled: Mapping[str, int]) -> None:
        try:
            await self._update(bucket_id, [part], settled, upsert=True)
        except DuplicateKeyError:
            # The bucket exists: it has this token (done before a crash), or another
            # process created it concurrently. Without upsert, the guard decides which.
            await self._update(bucket_id, [part], settled, upsert=False)
        part.done = True

    async def _update(self, bucket_id: str, parts: list[_Part], settled: Mapping[str, int], *, upsert: bool) -> bool:
        """One guarded write of these parts: applied to all of them, or (no match) to none."""
        guarded: dict[str, Any] = {"_id": bucket_id, **{p.token_field: {"$ne": p.token} for p in parts}}
        total: dict[str, int] = {}
        for part in parts:
            for name, value in part.fields.items():
                total[name] = total.get(name, 0) + value
        change: dict[str, Any] = {"$set": {p.token_field: p.token for p in parts}}
        increments = {name: value for name, value in stored_paths(total).items() if value}
        if increments:
            change["$inc"] = increments
        if settled:
            change["$unset"] = {name: "" for name in settled}
        result = await self.buckets.update_one(guarded, change, upsert=upsert)
        applied = result.matched_count == 1 or result.upserted_id is not None
        if applied:
            for part in parts:
                part.done = True
        return applied

    def _settle(self, bucket_id: str, tokens: Mapping[str, int]) -> None:
        if len(self._settled) >= 100_000 and bucket_id not in self._settled:
            self._settled.pop(next(iter(self._settled)))  # bounded: the oldest leaks a field or two
        self._settled.setdefault(bucket_id, {}).update(tokens)

    async def read(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """The buckets with these ids that exist: point reads, concurrently (FerretDB v1 pushes
        down `_id` equality only; `$in` scans the collection). At most ~14 for a range."""
        found = await asyncio.gather(*(self.buckets.find_one({"_id": bucket_id}) for bucket_id in ids))
        return [flattened(doc) for doc in found if doc is not None]

    async def add(self, bucket_id: str, fields: Mapping[str, int]) -> None:
        """Unguarded `$inc` for a bulk load that writes its markers itself (the benchmark's seed)."""
        await self.buckets.update_one({"_id": bucket_id}, {"$inc": stored_paths(fields)}, upsert=True)

    async def clear(self) -> None:
        await self.markers.delete_many({})
        await self.buckets.delete_many({})
