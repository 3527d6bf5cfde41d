"""Event store per aggregate in MongoDB; the stored events double as the outbox.

Each append is one atomic document insert guarded by a unique (stream, version)
index, so two writers racing on the same aggregate cannot both win (optimistic
concurrency) and no multi-document transaction is needed (FerretDB v1 has none).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CloudEvent
from infra.metrics import EVENTS_APPENDED
from infra.telemetry import current_trace_carrier


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


class EventStore:
    def __init__(self, db: AsyncDatabase, service: str, collection: str = "events") -> None:
        self.events = db[collection]
        self.service = service
        self._listeners: list = []

    async def ensure_indexes(self) -> None:
        await self.events.create_index([("stream", ASCENDING), ("version", ASCENDING)], unique=True)
        await self.events.create_index([("published", ASCENDING), ("recorded_at", ASCENDING)])

    def on_append(self, callback) -> None:
        """Lets the relay in the same process wake up at once instead of waiting a poll."""
        self._listeners.append(callback)

    async def append(
        self, stream: str, topic: str, event: CloudEvent, meta: dict[str, Any] | None = None
    ) -> StoredEvent:
        """meta is stored beside the event, never published (e.g. an idempotency fingerprint)."""
        if event.aggregateversion is None:
            raise ValueError("event needs its aggregate version")
        body = event.to_json_dict()
        trace = current_trace_carrier()
        doc = {
            "_id": body["id"],
            "stream": stream,
            "version": event.aggregateversion,
            "topic": topic,
            "type": event.type,
            "event": body,
            "trace": trace,
            "published": False,
            "recorded_at": datetime.now(UTC),
        }
        if meta:
            doc["meta"] = meta
        try:
            await self.events.insert_one(doc)
        except DuplicateKeyError as exc:
            raise ConcurrencyError(stream, event.aggregateversion) from exc
        EVENTS_APPENDED.labels(self.service, event.type).inc()
        for callback in self._listeners:
            callback()
        return StoredEvent(stream, event.aggregateversion, topic, body, trace)

    async def load(self, stream: str) -> list[dict[str, Any]]:
        cursor = self.events.find({"stream": stream}, {"event": 1}).sort("version", ASCENDING)
        return [doc["event"] async for doc in cursor]

    async def first(self, stream: str) -> dict[str, Any] | None:
        """The stream's first stored document (event and meta), or None for a new stream."""
        return await self.events.find_one({"stream": stream, "version": 1}, {"event": 1, "meta": 1})

    async def unpublished(self, limit: int) -> list[dict[str, Any]]:
        cursor = (
            self.events.find({"published": False}, {"event": 1, "topic": 1, "trace": 1, "stream": 1, "version": 1})
            .sort([("recorded_at", ASCENDING), ("version", ASCENDING)])
            .limit(limit)
        )
        return [doc async for doc in cursor]

    async def mark_published(self, ids: list[str]) -> None:
        if ids:
            await self.events.update_many({"_id": {"$in": ids}}, {"$set": {"published": True}})

    async def backlog(self) -> int:
        return await self.events.count_documents({"published": False})
