"""A small collection of work that is due, claimed with a lease so that one replica at a time does it.

Deliveries and emails each keep their full record elsewhere; the queue holds one
small entry per record that still has work to do, and loses it when the work is
done, so scanning the whole queue (FerretDB v1 pushes down nothing but `_id`) stays
cheap however large the delivery log grows.

    {_id, due_at, lease_until, lease_replica, lease_boot, ...what the worker needs to route it}

Claiming is one atomic find-and-modify by `_id`: due, and either unleased (the lease
expired) or leased by an earlier life of this same replica, which a restarted
process (same host and port, new boot id) takes back at once instead of waiting out
the lease of its own killed predecessor. Two live replicas never both hold an entry.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DUPLICATE_KEY = 11000


def replica_name(port: int) -> str:
    """Stable across restarts of one replica: the pod's host name (or this machine's) and the port."""
    return f"{os.environ.get('HOSTNAME') or socket.gethostname()}:{port}"


async def insert_new(collection: AsyncCollection, docs: list[dict[str, Any]]) -> int:
    """insert_many that skips documents whose `_id` exists (a replay); returns how many were new."""
    if not docs:
        return 0
    try:
        result = await collection.insert_many(docs, ordered=False)
        return len(result.inserted_ids)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        return exc.details.get("nInserted", len(docs) - len(errors))


class DueQueue:
    def __init__(self, collection: AsyncCollection, replica: str, lease_seconds: float) -> None:
        self.entries = collection
        self.replica = replica
        self.boot = uuid.uuid4().hex
        self.lease = timedelta(seconds=lease_seconds)

    @staticmethod
    def entry(entry_id: str, due_at: datetime, **fields: Any) -> dict[str, Any]:
        return {"_id": entry_id, "due_at": due_at, "lease_until": EPOCH, "lease_replica": "", "lease_boot": "", **fields}

    async def enqueue(self, entries: Iterable[dict[str, Any]]) -> int:
        return await insert_new(self.entries, list(entries))

    def leased_to_me(self, entry: dict[str, Any], now: datetime) -> dict[str, Any]:
        """The entry as this replica's from the start: the work that created it does it next,
        without a claim (a round trip saved per delivery); others see it leased."""
        return {**entry, "lease_until": now + self.lease, "lease_replica": self.replica, "lease_boot": self.boot}

    def still_mine(self, entry: dict[str, Any], now: datetime, margin: timedelta) -> bool:
        """Whether an entry this replica leased is safely its own for `margin` more."""
        return entry.get("lease_boot") == self.boot and entry["lease_until"] - margin > now

    async def make_due(self, entry_id: str, due_at: datetime, fields: Mapping[str, Any]) -> None:
        """Due at `due_at` with `fields` (a redelivery); an entry in flight keeps its lease, its holder
        reschedules it."""
        try:
            await self.entries.update_one(
                {"_id": entry_id},
                {"$set": {"due_at": due_at, **fields},
                 "$setOnInsert": {"lease_until": EPOCH, "lease_replica": "", "lease_boot": ""}},
                upsert=True,
            )
        except DuplicateKeyError:
            await self.entries.update_one({"_id": entry_id}, {"$set": {"due_at": due_at, **fields}})

    async def claim(self, entry_id: str, now: datetime | None = None) -> dict[str, Any] | None:
        now = now or datetime.now(UTC)
        return await self.entries.find_one_and_update(
            {"_id": entry_id, "due_at": {"$lte": now},
             "$or": [{"lease_until": {"$lte": now}},
                     {"lease_replica": self.replica, "lease_boot": {"$ne": self.boot}}]},
            {"$set": {"lease_until": now + self.lease, "lease_replica": self.replica, "lease_boot": self.boot}},
            return_document=ReturnDocument.AFTER,
        )

    async def reschedule(self, entry_id: str, due_at: datetime, **fields: Any) -> None:
        """Hands a claimed entry back, due again at `due_at` (with `fields` updated)."""
        await self.entries.update_one(
            {"_id": entry_id, "lease_boot": self.boot},
            {"$set": {"due_at": due_at, "lease_until": EPOCH, "lease_replica": "", "lease_boot": "", **fields}},
        )

    async def done(self, entry_id: str) -> None:
        await self.entries.delete_one({"_id": entry_id})

    async def scan(self, projection: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return await self.entries.find({}, projection).to_list(None)

    def claimable(self, entry: Mapping[str, Any], now: datetime) -> bool:
        """Whether a claim of this entry (as scanned) could succeed now."""
        if entry["due_at"] > now:
            return False
        return entry["lease_until"] <= now or (entry["lease_replica"] == self.replica and entry["lease_boot"] != self.boot)
