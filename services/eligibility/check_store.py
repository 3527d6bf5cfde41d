"""Stored check answers, one collection per hour in which checks were made.

FerretDB v1 answers a filter on anything but `_id` by scanning every document (about
160 µs each on these machines), so a sweeper deleting `expires_at <= now` from one
collection holding a day of checks stalled the server, and every check waiting on it,
for seconds each minute. Instead a check goes into the collection of the hour it was
made in, and a whole hour is dropped, one command and no scan, once its last check has
expired. A check id is a UUIDv7 whose first 48 bits are its creation time in
milliseconds, so a read finds the collection from the id alone, with one point read.

On MongoDB a TTL index would do all this; FerretDB v1 has none (BLUEPRINT §4).
"""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from infra.batching import BatchedInserts

log = logging.getLogger(__name__)

PREFIX = "checks_"
LEGACY = "checks"  # before hourly collections: swept by filter until empty, then dropped
_HOURLY = re.compile(r"checks_(\d{10})")
ONE_HOUR = timedelta(hours=1)


def new_check_id(now: datetime) -> str:
    """A UUIDv7 (RFC 9562): 48 bits of unix milliseconds, version, 74 random bits."""
    value = (int(now.timestamp() * 1000) & (2**48 - 1)) << 80
    value |= 0x7 << 76
    value |= secrets.randbits(12) << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    return str(uuid.UUID(int=value))


def created_at(check_id: str) -> datetime | None:
    """When a UUIDv7 check id was made; None for any other id (older checks, or garbage)."""
    try:
        parsed = uuid.UUID(check_id)
    except ValueError:
        return None
    if parsed.version != 7:
        return None
    try:
        return datetime.fromtimestamp((parsed.int >> 80) / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return None  # 48 bits of milliseconds reach past year 9999: a made-up id


def collection_for(moment: datetime) -> str:
    return f"{PREFIX}{moment.astimezone(UTC):%Y%m%d%H}"


class CheckStore:
    def __init__(self, db: AsyncDatabase, ttl: timedelta, linger: float = 0.0) -> None:
        self.db = db
        self.ttl = ttl
        self.linger = linger
        self._inserts: dict[str, BatchedInserts] = {}

    async def insert(self, doc: dict[str, Any], made_at: datetime) -> None:
        """Group-committed with the other checks of the moment (infra/batching.py)."""
        name = collection_for(made_at)
        batcher = self._inserts.get(name)
        if batcher is None:
            # Only the current hour (and for a moment the previous one) is ever written.
            for old in [n for n in self._inserts if n < name]:
                del self._inserts[old]
            batcher = self._inserts[name] = BatchedInserts(self.db[name], linger=self.linger)
        await batcher.insert(doc)

    async def find(self, check_id: str) -> dict[str, Any] | None:
        made = created_at(check_id)
        name = collection_for(made) if made is not None else LEGACY
        return await self.db[name].find_one({"_id": check_id})

    async def sweep(self, now: datetime) -> int:
        """Drops every hour whose checks have all expired; returns how many hours went."""
        dropped = 0
        for name in await self.db.list_collection_names():
            match = _HOURLY.fullmatch(name)
            if match:
                hour = datetime.strptime(match.group(1), "%Y%m%d%H").replace(tzinfo=UTC)
                if hour + ONE_HOUR + self.ttl <= now:
                    await self.db.drop_collection(name)
                    dropped += 1
            elif name == LEGACY:
                await self._sweep_legacy(now)
        return dropped

    async def _sweep_legacy(self, now: datetime) -> None:
        legacy = self.db[LEGACY]
        await legacy.delete_many({"expires_at": {"$lte": now}})  # a scan, until the day is over
        if await legacy.find_one({}, {"_id": 1}) is None:
            await self.db.drop_collection(LEGACY)
