"""A lease in MongoDB so that one replica at a time runs a singleton job (the relay).

Taking or renewing it is one atomic find-and-modify; a crashed holder's lease simply
expires. FerretDB v1 has no TTL indexes, so expiry is a field compared on read.
"""

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class Lease:
    def __init__(self, db: AsyncDatabase, name: str, ttl_seconds: float = 10.0) -> None:
        self.leases = db["leases"]
        self.name = name
        self.ttl = timedelta(seconds=ttl_seconds)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def acquire(self) -> bool:
        now = datetime.now(UTC)
        try:
            doc = await self.leases.find_one_and_update(
                {"_id": self.name, "$or": [{"holder": self.holder}, {"expires_at": {"$lt": now}}]},
                {"$set": {"holder": self.holder, "expires_at": now + self.ttl}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # the lease exists and is held by someone else
        return doc is not None and doc.get("holder") == self.holder

    async def release(self) -> None:
        await self.leases.delete_one({"_id": self.name, "holder": self.holder})
