"""Event store per aggregate in MongoDB, with a transactional-outbox twin.

Two facts shape it:
- No multi-document transactions (FerretDB v1): each append must be decided by one
  atomic insert. The event's `_id` is "<stream>:<version>", so a second writer of the
  same version fails on the primary key: optimistic concurrency, no lost update.
- FerretDB v1 (SQLite) pushes down only a filter of exactly `{_id: <string>}`; any
  other query scans the whole collection. So every hot-path read here is by `_id`:
  a stream loads by point reads of version 1, 2, ... and the relay never scans the
  (ever-growing) events collection.

Publishing (ADR 10): before the event is committed an *intent* is written to the small
`outbox` collection (which only ever holds what is not yet published), so a committed
event always has its intent. The relay publishes an intent once the committed event
with the same event id exists. An intent whose commit is not there is *open*: its
writer may be slow, or dead. The relay never guesses which from a clock; after a short
grace it settles the question by inserting a tombstone in the slot the writer would
commit to. The primary key lets exactly one of the two inserts win:
- the tombstone wins: the writer's commit fails with a duplicate key, which it reports
  as a ConcurrencyError (the command reloads and decides again), and the relay may
  drop the intent: it can never be committed;
- the commit wins: the relay's insert fails, it reads the event and publishes it.
So nothing uncommitted is published and nothing committed is dropped, whatever the
writer's speed. A relay sharing this store (the runtime's) also uses what the process
knows first-hand: its own commits need no read-back, and its own appends that are
still running are never aborted after the grace.

Slots: a version whose slot holds a tombstone stays usable. Its next slot is
"<stream>:<version>~1" (then ~2, ...), and the first slot that holds an event is the
version's event. Slots fill strictly in order and a tombstone is only ever put in an
empty slot, so an event sits behind tombstones only, and a stream's last document may
be a tombstone but nothing follows a tombstone except the same version's next slot.
In the common case (no tombstone) every read and write is exactly what it was: one
point read per version, one insert per commit.
"""

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CloudEvent
from infra.batching import BatchedInserts
from infra.metrics import EVENTS_APPENDED
from infra.telemetry import current_trace_carrier

# Far more than any aggregate here has; a guard against a runaway load loop.
MAX_STREAM_LENGTH = 10_000
# A version needs another slot only when a writer was slower than the relay's grace.
MAX_SLOTS = 1_000
# Commits of this process the relay may still ask about (a bound for a process whose
# relay is not the lease holder, so that nobody forgets them here).
MAX_REMEMBERED_COMMITS = 10_000
# The field that makes an events document a tombstone: the id of the intent it aborted.
ABORTED_INTENT = "aborted_intent"


class ConcurrencyError(Exception):
    """Someone else appended to the stream first; reload and decide again."""

    def __init__(self, stream: str, version: int) -> None:
        super().__init__(f"stream {stream} already has version {version}")
        self.stream = stream
        self.version = version


@dataclass(frozen=True)
class StoredEvent:
    stream: str
    version: int
    topic: str
    event: dict[str, Any]
    trace: dict[str, str]


def event_key(stream: str, version: int) -> str:
    return f"{stream}:{version:010d}"


def slot_key(stream: str, version: int, slot: int) -> str:
    """Slot 0 is the event key itself, so streams without tombstones look as they always did."""
    key = event_key(stream, version)
    return key if slot == 0 else f"{key}~{slot}"


class Outcome(Enum):
    COMMITTED = "committed"  # the intent's event is stored: publish it
    SUPERSEDED = "superseded"  # another event holds its version: the writer lost the race
    ABORTED = "aborted"  # a tombstone holds its slot: the writer can never commit it
    OPEN = "open"  # its slot is empty: the writer may still commit


@dataclass(frozen=True)
class Resolution:
    outcome: Outcome
    slot: int  # where the scan ended: the empty slot of an OPEN intent


def intent_position(intent: dict[str, Any]) -> tuple[str, int]:
    """(stream, version) of an aggregate event's intent."""
    if "stream" in intent:
        return intent["stream"], intent["version"]
    stream, _, version = intent["key"].rpartition(":")  # intents written before ADR 10
    return stream, int(version)


class EventStore:
    def __init__(self, db: AsyncDatabase, service: str, collection: str = "events") -> None:
        self.events = db[collection]
        self.outbox = db[f"{collection}_outbox"]
        # Concurrent appends share insert rounds (see infra/batching.py); a duplicate key
        # still fails only its own append, which is what optimistic concurrency needs.
        self._intents = BatchedInserts(self.outbox)
        self._commits = BatchedInserts(self.events)
        self.service = service
        self._listeners: list = []
        # What this process knows about its own appends, so that a relay sharing this
        # store (the usual case: the lease holder's own writes) needs no read to learn
        # that a commit landed, and never aborts a writer that is merely slow. Only
        # knowledge, never guesses: an id is added to _committed_here after the commit
        # insert returned, and is in _in_flight exactly while the append is undecided.
        self._in_flight: set[str] = set()
        self._committed_here: OrderedDict[str, None] = OrderedDict()

    async def ensure_indexes(self) -> None:
        """Nothing beyond `_id`: every read and the concurrency guard go through it."""

    def on_append(self, callback) -> None:
        """Lets the relay in the same process wake up at once instead of waiting a poll."""
        self._listeners.append(callback)

    async def append(
        self, stream: str, topic: str, event: CloudEvent, meta: dict[str, Any] | None = None
    ) -> StoredEvent:
        """meta is stored beside the event, never published (e.g. an idempotency fingerprint).

        Raises ConcurrencyError when the version is taken, or when the relay aborted this
        append because its commit came later than the relay's grace (see the module doc).
        """
        version = event.aggregateversion
        if version is None:
            raise ValueError("event needs its aggregate version")
        body = event.to_json_dict()
        trace = current_trace_carrier()
        now = datetime.now(UTC)
        # The time prefix only helps a human reading the outbox; order comes from the
        # insertion order and the versions (EventStore.pending), never from clocks.
        intent_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
        doc = {
            "stream": stream,
            "version": version,
            "topic": topic,
            "type": event.type,
            "event": body,
            "recorded_at": now,
        }
        if meta:
            doc["meta"] = meta
        self._in_flight.add(intent_id)
        try:
            await self._intents.insert({
                "_id": intent_id, "key": event_key(stream, version), "stream": stream, "version": version,
                "topic": topic, "event": body, "trace": trace, "recorded_at": now,
            })
            await self._commit(intent_id, stream, version, doc)
        finally:
            self._in_flight.discard(intent_id)
        EVENTS_APPENDED.labels(self.service, event.type).inc()
        for callback in self._listeners:
            callback()
        return StoredEvent(stream, version, topic, body, trace)

    async def _commit(self, intent_id: str, stream: str, version: int, doc: dict[str, Any]) -> None:
        slot = 0
        while True:
            try:
                await self._commits.insert({"_id": slot_key(stream, version, slot), **doc})
                break
            except DuplicateKeyError as exc:
                occupant = await self.events.find_one({"_id": slot_key(stream, version, slot)}, {ABORTED_INTENT: 1})
                aborted = (occupant or {}).get(ABORTED_INTENT)
                if aborted is None or aborted == intent_id or slot + 1 >= MAX_SLOTS:
                    # An event holds the version, or the relay aborted this very append.
                    await self.outbox.delete_one({"_id": intent_id})
                    raise ConcurrencyError(stream, version) from exc
                slot += 1  # a tombstone of another writer's append: the version is still free
        self._committed_here[intent_id] = None
        while len(self._committed_here) > MAX_REMEMBERED_COMMITS:
            self._committed_here.popitem(last=False)  # another replica's relay publishes these

    def writing_here(self, intent_id: str) -> bool:
        """Whether the intent's append is still running in this process (so its writer is alive)."""
        return intent_id in self._in_flight

    async def record(self, topic: str, event: CloudEvent) -> None:
        """Publishes a fact that belongs to no aggregate (an audit record) with one insert.

        Nothing can race on it, so the intent is born committed: durable once this
        returns, published by the relay like any event, and kept by Kafka afterwards.
        """
        await self._intents.insert(
            {
                "_id": f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}",
                "key": None,
                "committed": True,
                "topic": topic,
                "event": event.to_json_dict(),
                "trace": current_trace_carrier(),
                "recorded_at": datetime.now(UTC),
            }
        )
        EVENTS_APPENDED.labels(self.service, event.type).inc()
        for callback in self._listeners:
            callback()

    async def _committed(self, stream: str, version: int, projection: dict) -> tuple[dict | None, int]:
        """The version's event document (or None) and the slot where the scan stopped."""
        for slot in range(MAX_SLOTS):
            doc = await self.events.find_one({"_id": slot_key(stream, version, slot)}, {**projection, ABORTED_INTENT: 1})
            if doc is None:
                return None, slot
            if ABORTED_INTENT not in doc:
                return doc, slot
        raise RuntimeError(f"stream {stream} version {version} has no free slot left")

    async def load(self, stream: str) -> list[dict[str, Any]]:
        events = []
        for version in range(1, MAX_STREAM_LENGTH + 1):
            doc, _ = await self._committed(stream, version, {"event": 1})
            if doc is None:
                break
            events.append(doc["event"])
        return events

    async def first(self, stream: str) -> dict[str, Any] | None:
        """The stream's first stored document (event and meta), or None for a new stream."""
        doc, _ = await self._committed(stream, 1, {"event": 1, "meta": 1})
        return doc

    async def resolve(self, intent: dict[str, Any], from_slot: int = 0) -> Resolution:
        """What became of an intent's commit: one point read in the common case."""
        if intent.get("committed") or intent["_id"] in self._committed_here:
            return Resolution(Outcome.COMMITTED, 0)
        stream, version = intent_position(intent)
        for slot in range(from_slot, MAX_SLOTS):
            doc = await self.events.find_one({"_id": slot_key(stream, version, slot)}, {"event.id": 1, ABORTED_INTENT: 1})
            if doc is None:
                return Resolution(Outcome.OPEN, slot)
            if ABORTED_INTENT in doc:
                if doc[ABORTED_INTENT] == intent["_id"]:
                    return Resolution(Outcome.ABORTED, slot)
                continue  # another append's tombstone; the version moved to the next slot
            same = doc["event"]["id"] == intent["event"]["id"]
            return Resolution(Outcome.COMMITTED if same else Outcome.SUPERSEDED, slot)
        raise RuntimeError(f"stream {stream} version {version} has no free slot left")

    async def abort(self, intent: dict[str, Any], open_slot: int) -> Resolution:
        """Races the intent's writer for its empty slot with a tombstone; the primary key picks one.

        Returns ABORTED when the tombstone won (the writer's commit will fail), or what is
        in the slot otherwise (the commit won: COMMITTED; or another writer took it).
        """
        stream, version = intent_position(intent)
        tombstone = {
            "_id": slot_key(stream, version, open_slot), "stream": stream, "version": version,
            ABORTED_INTENT: intent["_id"], "recorded_at": datetime.now(UTC),
        }
        try:
            await self.events.insert_one(tombstone)
        except DuplicateKeyError:
            return await self.resolve(intent, open_slot)
        return Resolution(Outcome.ABORTED, open_slot)

    async def pending(self, limit: int) -> list[dict[str, Any]]:
        """Intents in write order: the outbox's insertion order, and each stream by version.

        An unsorted read comes back in insertion order (FerretDB on SQLite scans by rowid,
        and a new row's rowid is above every existing one); an append writes its intent
        only after the stream's previous version is committed, so that order already puts
        a stream's versions in sequence. Sorting each stream's intents by version within
        the batch keeps that guarantee on a server whose natural order is looser.
        """
        docs = [doc async for doc in self.outbox.find({}).limit(limit)]
        return _streams_in_version_order(docs)

    async def forget(self, intent_ids: list[str]) -> None:
        # The outbox holds only unpublished intents, so this scan stays small.
        if intent_ids:
            await self.outbox.delete_many({"_id": {"$in": intent_ids}})
            for intent_id in intent_ids:
                self._committed_here.pop(intent_id, None)


def _streams_in_version_order(intents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same positions per stream, filled with that stream's intents in version order."""
    positions: dict[str, list[int]] = {}
    for index, intent in enumerate(intents):
        if intent.get("key"):
            positions.setdefault(intent_position(intent)[0], []).append(index)
    ordered = list(intents)
    for indexes in positions.values():
        if len(indexes) > 1:
            by_version = sorted((intents[i] for i in indexes), key=lambda i: intent_position(i)[1])
            for index, intent in zip(indexes, by_version, strict=True):
                ordered[index] = intent
    return ordered
