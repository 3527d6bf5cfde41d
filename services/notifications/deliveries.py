"""The delivery log: one document per (event, endpoint), every attempt in it.

    {_id: delivery_id, webhook_id, organization_id, endpoint_id, event_id, event_type,
     event_time, body, status, attempts: [{at, response_status?, error?, duration_ms}],
     attempts_in_round, round, next_attempt_at, created_at, ended_reason?}

The delivery id is a UUIDv5 of (event id, endpoint id): a redelivered or replayed
event finds its delivery already there and adds nothing. The body is fixed when the
delivery is recorded, so every attempt (and a redelivery) sends the same bytes under
the same webhook-id; only webhook-timestamp and the signature are per attempt.

Status: pending (its first or next attempt is to come: next_attempt_at), succeeded,
exhausted (every attempt of the schedule failed), failed (stopped before the schedule
ran out: the endpoint answered 410, was disabled or deleted; `ended_reason` says).
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from services.notifications.due_queue import DueQueue, insert_new

NAMESPACE = uuid.UUID("0b0c5e0e-8a51-4f37-9a55-5e4c1c1f1d11")
PENDING, SUCCEEDED, FAILED, EXHAUSTED = "pending", "succeeded", "failed", "exhausted"
STATUSES = (PENDING, SUCCEEDED, FAILED, EXHAUSTED)
FINAL = frozenset({SUCCEEDED, FAILED, EXHAUSTED})


def delivery_id_for(event_id: str, endpoint_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"delivery:{event_id}:{endpoint_id}"))


def webhook_id_for(event_id: str) -> str:
    """One message id per event: the same at every endpoint, in every attempt and redelivery."""
    return "msg_" + uuid.uuid5(NAMESPACE, f"webhook:{event_id}").hex


class DeliveryStore:
    def __init__(self, db: AsyncDatabase, queue: DueQueue) -> None:
        self.deliveries = db["deliveries"]
        self.queue = queue

    async def ensure_indexes(self) -> None:
        # Real MongoDB answers the delivery log from this; FerretDB v1 accepts it and scans.
        await self.deliveries.create_index([("endpoint_id", ASCENDING), ("created_at", DESCENDING)])

    async def record(self, deliveries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Stores the deliveries, then their queue entries; returns the entries made.

        The delivery first: an entry always has its record. A crash between the two
        leaves a delivery without an entry only until the event is consumed again (its
        offset was not committed): then the delivery is found still pending and gets
        its entry. A delivery found done (a replay of an old event) gets none.
        """
        inserted = await insert_new(self.deliveries, deliveries)
        todo = deliveries
        if inserted < len(deliveries):
            ids = [d["_id"] for d in deliveries]
            stored = {d["_id"]: d for d in await self.deliveries.find({"_id": {"$in": ids}}, {"status": 1}).to_list(None)}
            todo = [d for d in deliveries if stored.get(d["_id"], {}).get("status", PENDING) == PENDING]
        now = datetime.now(UTC)
        entries = [self.queue.leased_to_me(queue_entry(d, d["next_attempt_at"]), now) for d in todo]
        await self.queue.enqueue(entries)
        return entries

    async def get(self, delivery_id: str) -> dict[str, Any] | None:
        return await self.deliveries.find_one({"_id": delivery_id})

    async def record_attempt(
        self, delivery_id: str, attempt: dict[str, Any], *, status: str, next_attempt_at: datetime | None,
        attempts_in_round: int, ended_reason: str | None = None,
    ) -> None:
        update: dict[str, Any] = {"status": status, "next_attempt_at": next_attempt_at, "attempts_in_round": attempts_in_round}
        if ended_reason:
            update["ended_reason"] = ended_reason
        await self.deliveries.update_one({"_id": delivery_id}, {"$set": update, "$push": {"attempts": attempt}})

    async def end(self, delivery_id: str, reason: str) -> None:
        """Stops a delivery without an attempt (its endpoint is disabled or gone)."""
        await self.deliveries.update_one(
            {"_id": delivery_id, "status": PENDING},
            {"$set": {"status": FAILED, "next_attempt_at": None, "ended_reason": reason}},
        )

    async def redeliver(self, delivery: dict[str, Any], now: datetime) -> dict[str, Any] | None:
        """A new round of the schedule from now, same body and webhook-id."""
        updated = await self.deliveries.find_one_and_update(
            {"_id": delivery["_id"]},
            {"$set": {"status": PENDING, "next_attempt_at": now, "attempts_in_round": 0, "ended_reason": None},
             "$inc": {"round": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if updated is not None:
            entry = queue_entry(updated, now)
            await self.queue.make_due(delivery["_id"], now, {k: v for k, v in entry.items()
                                                             if k not in ("_id", "due_at") and not k.startswith("lease_")})
        return updated

    async def for_endpoint(
        self, endpoint_id: str, *, status: str | None, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The endpoint's deliveries, newest first, and the cursor of the next page."""
        query: dict[str, Any] = {"endpoint_id": endpoint_id}
        if status:
            query["status"] = status
        if cursor:
            created_at, last_id = decode_cursor(cursor)
            query["$or"] = [{"created_at": {"$lt": created_at}}, {"created_at": created_at, "_id": {"$lt": last_id}}]
        docs = await (
            self.deliveries.find(query, {"body": 0}).sort([("created_at", DESCENDING), ("_id", DESCENDING)]).limit(limit + 1)
        ).to_list(None)
        page = docs[:limit]
        next_cursor = encode_cursor(page[-1]) if len(docs) > limit and page else None
        return page, next_cursor


def queue_entry(delivery: dict[str, Any], due_at: datetime) -> dict[str, Any]:
    """The queue entry of a pending delivery: everything an attempt needs, so that claiming it
    is the only read before the attempt (the delivery itself is only written to)."""
    return DueQueue.entry(
        delivery["_id"], due_at, endpoint_id=delivery["endpoint_id"], organization_id=delivery["organization_id"],
        webhook_id=delivery["webhook_id"], body=delivery["body"], event_time=delivery["event_time"],
        attempts_in_round=delivery.get("attempts_in_round", 0), attempted=bool(delivery.get("attempts")),
        created_at=delivery["created_at"],
    )


class InvalidCursor(ValueError):
    pass


def encode_cursor(doc: dict[str, Any]) -> str:
    raw = orjson.dumps([doc["created_at"].isoformat(), doc["_id"]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created_at, last_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        when = datetime.fromisoformat(created_at)
        if not isinstance(last_id, str):
            raise TypeError
    except (ValueError, TypeError) as exc:
        raise InvalidCursor(cursor) from exc
    return (when if when.tzinfo else when.replace(tzinfo=UTC)), last_id


def public_delivery(doc: dict[str, Any]) -> dict[str, Any]:
    """A delivery as API.md shows it."""
    out: dict[str, Any] = {
        "delivery_id": doc["_id"],
        "webhook_id": doc["webhook_id"],
        "endpoint_id": doc["endpoint_id"],
        "event_type": doc["event_type"],
        "status": doc["status"],
        "created_at": _instant(doc["created_at"]),
        "attempts": [
            {k: (_instant(v) if k == "at" else v) for k, v in a.items() if v is not None} for a in doc.get("attempts") or []
        ],
    }
    if doc.get("next_attempt_at") is not None and doc["status"] == PENDING:
        out["next_attempt_at"] = _instant(doc["next_attempt_at"])
    if doc.get("ended_reason"):
        out["ended_reason"] = doc["ended_reason"]
    return out


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
