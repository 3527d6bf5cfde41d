"""Event store per aggregate in MongoDB, with a transactional-outbox twin.

Two facts shape it:
- No multi-document transactions (FerretDB v1): each append must be decided by one
  atomic insert. The event's `_id` is "<stream>:<version>", so a second writer of the
  same version fails on the primary key: optimistic concurrency, no lost update.
- FerretDB v1 (SQLite) pushes down only a filter of exactly `{_id: <string>}`; any
  other query scans the whole collection. So every hot-path read here is by `_id`:
  a stream loads by point reads of version 1, 2, ... and the relay never scans the
  (ever-growing) events collection.

Publishing: before the event is committed an *intent* is written to the small
`outbox` collection (which only ever holds what is not yet published). The relay
publishes an intent only once the committed event with the same id exists, then
deletes the intent; an intent whose commit never happened (the writer lost the race
or crashed) is discarded. A committed event therefore always has its intent, and
nothing uncommitted is ever published.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CloudEvent
from infra.batching import BatchedInserts
from infra.metrics import EVENTS_APPENDED
from infra.telemetry import current_trace_carrier

# Far more than any aggregate here has; a guard against a runaway load loop.
MAX_STREAM_LENGTH = 10_000


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

    async def ensure_indexes(self) -> None:
        """Nothing beyond `_id`: every read and the concurrency guard go through it."""

    def on_append(self, callback) -> None:
        """Lets the relay in the same process wake up at once instead of waiting a poll."""
        self._listeners.append(callback)

    async def append(
        self, stream: str, topic: str, event: CloudEvent, meta: dict[str, Any] | None = None
    ) -> StoredEvent:
        """meta is stored beside the event, never published (e.g. an idempotency fingerprint)."""
        if event.aggregateversion is None:
            raise ValueError("event needs its aggregate version")
        key = event_key(stream, event.aggregateversion)
        body = event.to_json_dict()
        trace = current_trace_carrier()
        now = datetime.now(UTC)
        # Time-ordered ids let the relay keep write order without a server-side sort.
        intent_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
        await self._intents.insert(
            {"_id": intent_id, "key": key, "topic": topic, "event": body, "trace": trace, "recorded_at": now}
        )
        doc = {
            "_id": key,
            "stream": stream,
            "version": event.aggregateversion,
            "topic": topic,
            "type": event.type,
            "event": body,
            "recorded_at": now,
        }
        if meta:
            doc["meta"] = meta
        try:
            await self._commits.insert(doc)
        except DuplicateKeyError as exc:
            await self.outbox.delete_one({"_id": intent_id})
            raise ConcurrencyError(stream, event.aggregateversion) from exc
        EVENTS_APPENDED.labels(self.service, event.type).inc()
        for callback in self._listeners:
            callback()
        return StoredEvent(stream, event.aggregateversion, topic, body, trace)

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

    async def load(self, stream: str) -> list[dict[str, Any]]:
        events = []
        for version in range(1, MAX_STREAM_LENGTH + 1):
            doc = await self.events.find_one({"_id": event_key(stream, version)}, {"event": 1})
            if doc is None:
                break
            events.append(doc["event"])
        return events

    async def first(self, stream: str) -> dict[str, Any] | None:
        """The stream's first stored document (event and meta), or None for a new stream."""
        return await self.events.find_one({"_id": event_key(stream, 1)}, {"event": 1, "meta": 1})

    async def committed_event_id(self, key: str) -> str | None:
        doc = await self.events.find_one({"_id": key}, {"event.id": 1})
        return doc["event"]["id"] if doc else None

    async def pending(self, limit: int) -> list[dict[str, Any]]:
        """Intents in the order they were written.

        Unsorted reads come back in insertion order (SQLite's rowid); FerretDB cannot sort
        a non-capped collection by $natural, so the small batch is ordered here by its
        time-ordered ids.
        """
        docs = [doc async for doc in self.outbox.find({}).limit(limit)]
        return sorted(docs, key=lambda doc: doc["_id"])

    async def forget(self, intent_ids: list[str]) -> None:
        # The outbox holds only unpublished intents, so this scan stays small.
        if intent_ids:
            await self.outbox.delete_many({"_id": {"$in": intent_ids}})
