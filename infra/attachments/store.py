"""Attachments in MongoDB: the bytes in GridFS, one small record per attachment beside them.

Shared by every service whose aggregates take documents (claims now, authorizations
next): the owner is (kind, id), e.g. ("claim", claim_id), and each service keeps its
own collections in its own database.

- Bytes: PyMongo's AsyncGridFSBucket `attachment_files`, written as they arrive under a
  fresh file id and read back chunk by chunk. Chunks are 1 MiB: FerretDB v1 costs about
  the same per command whatever it carries, so a 20 MiB file is ~20 inserts instead of
  the default 255 KiB's ~80, and a chunk document stays far below the 16 MiB document
  limit of MongoDB and FerretDB alike.
- Record: `attachments`, `_id` = attachment id, inserted after the file is complete.
  That insert is the attachment's existence and its idempotency record in one atomic
  write: a concurrent retry with the same Idempotency-Key loses on the key and drops
  its own file, so no record ever points at a file another request could delete.
  Reads are by `_id` (the one filter FerretDB v1 pushes down); listing an owner's
  attachments filters on owner_id (an index on real MongoDB, a scan of the small
  records on FerretDB, never of the chunks).

A process dying between the file's last chunk and the record leaves an unreferenced
file (never a record without its bytes); `orphans()` finds them for a clean-up job.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from gridfs import AsyncGridFSBucket
from gridfs.asynchronous import grid_file
from gridfs.errors import NoFile
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

CHUNK_BYTES = 1024 * 1024
BUCKET = "attachment_files"
RECORDS = "attachments"

# PyMongo's GridIn keeps up to 32 MiB of finished chunks in memory and inserts them
# together (gridfs/asynchronous/grid_file.py, _UPLOAD_BUFFER_SIZE): a 20 MiB upload would
# sit whole in the process. Bounded to one chunk, each chunk is inserted as soon as it
# is full (measured: peak growth ~70 MiB -> ~3 MiB for 20 MiB). It is a module constant
# read at each flush; tests/unit/attachments/test_gridfs_buffer.py fails if PyMongo drops it.
if not hasattr(grid_file, "_UPLOAD_BUFFER_SIZE"):
    raise RuntimeError("pymongo's GridIn no longer has _UPLOAD_BUFFER_SIZE: re-check upload buffering")
grid_file._UPLOAD_BUFFER_SIZE = CHUNK_BYTES


@dataclass(frozen=True)
class Owner:
    kind: str
    """The owning aggregate's kind: "claim", "authorization"."""
    id: str
    organization_id: str
    """The provider organisation whose data it is: only it (and the payer) may see it."""


@dataclass(frozen=True)
class Attachment:
    attachment_id: str
    owner_kind: str
    owner_id: str
    organization_id: str
    file_id: str
    document_type: str
    content_type: str
    sha256: str
    size: int
    filename: str | None
    uploaded_at: datetime
    uploaded_by: dict[str, str]

    def public(self) -> dict[str, Any]:
        """The attachment as the API shows it (the file id and uploader's client stay inside)."""
        return {
            "attachment_id": self.attachment_id,
            f"{self.owner_kind}_id": self.owner_id,
            "sha256": self.sha256,
            "size": self.size,
            "content_type": self.content_type,
            "document_type": self.document_type,
            "filename": self.filename,
            "uploaded_at": self.uploaded_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "uploaded_by": {"party": self.uploaded_by["party"], "role": self.uploaded_by["role"]},
        }

    def document(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["_id"] = doc.pop("attachment_id")
        return doc

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Attachment:
        fields = {k: v for k, v in doc.items() if k != "_id"}
        return cls(attachment_id=doc["_id"], **fields)


class GridFsSink:
    """The upload's bytes into one new GridFS file, opened at the first byte."""

    def __init__(self, bucket: AsyncGridFSBucket, owner: Owner) -> None:
        self.bucket = bucket
        self.owner = owner
        self.file_id = uuid.uuid4().hex
        self._stream = None

    async def write(self, data: bytes) -> None:
        if self._stream is None:
            self._stream = self.bucket.open_upload_stream_with_id(
                self.file_id, self.file_id,
                metadata={"owner_kind": self.owner.kind, "owner_id": self.owner.id},
            )
        await self._stream.write(data)

    async def close(self) -> None:
        if self._stream is not None:
            await self._stream.close()

    async def abort(self) -> None:
        if self._stream is not None and not self._stream.closed:
            await self._stream.abort()
        elif self._stream is not None:
            await self.delete()

    async def delete(self) -> None:
        try:
            await self.bucket.delete(self.file_id)
        except NoFile:
            pass


class DigestOnlySink:
    """For a replay: the bytes are only hashed (by the reader) to compare with the first upload."""

    async def write(self, data: bytes) -> None:
        return None

    async def close(self) -> None:
        return None

    async def abort(self) -> None:
        return None


class AttachmentStore:
    def __init__(self, db: AsyncDatabase, *, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.bucket = AsyncGridFSBucket(db, bucket_name=BUCKET, chunk_size_bytes=chunk_bytes)
        self.records = db[RECORDS]
        self.files = db[f"{BUCKET}.files"]

    async def ensure_indexes(self) -> None:
        # Real MongoDB lists an owner's attachments by this index; FerretDB v1 accepts it
        # and scans the (small) records.
        await self.records.create_index([("owner_id", ASCENDING), ("uploaded_at", ASCENDING)])

    def sink(self, owner: Owner) -> GridFsSink:
        return GridFsSink(self.bucket, owner)

    async def insert(self, attachment: Attachment) -> None:
        """DuplicateKeyError when the attachment id exists (a concurrent retry won)."""
        await self.records.insert_one(attachment.document())

    async def get(self, attachment_id: str) -> Attachment | None:
        if not attachment_id or len(attachment_id) > 64 or not attachment_id.isprintable():
            return None
        try:
            attachment_id.encode("utf-8")
        except UnicodeEncodeError:
            return None  # a lone surrogate: no attachment has such an id
        doc = await self.records.find_one({"_id": attachment_id})
        return Attachment.from_document(doc) if doc else None

    async def foreign(self, owner_kind: str, owner_id: str, attachment_ids: list[str],
                      loc: str = "attachment_ids") -> list[dict[str, str]]:
        """A problem for every id that is not an attachment of this owner (point reads by `_id`)."""
        found = await asyncio.gather(*(self.get(attachment_id) for attachment_id in attachment_ids))
        return [
            {"loc": f"{loc}[{index}]", "code": "unknown_attachment",
             "message": f"{attachment_id[:64]} is not an attachment of this {owner_kind}"}
            for index, (attachment_id, attachment) in enumerate(zip(attachment_ids, found, strict=True))
            if attachment is None or attachment.owner_kind != owner_kind or attachment.owner_id != owner_id
        ]

    async def of_owner(self, owner_kind: str, owner_id: str) -> list[Attachment]:
        cursor = self.records.find({"owner_id": owner_id, "owner_kind": owner_kind})
        found = [Attachment.from_document(doc) async for doc in cursor]
        return sorted(found, key=lambda a: (a.uploaded_at, a.attachment_id))

    async def content(self, attachment: Attachment) -> AsyncIterator[bytes]:
        """The bytes, one stored chunk at a time."""
        stream = await self.bucket.open_download_stream(attachment.file_id)
        try:
            while True:
                chunk = await stream.readchunk()
                if not chunk:
                    return
                yield chunk
        finally:
            await stream.close()

    async def orphans(self, older_than: datetime) -> list[str]:
        """GridFS files no record names (an upload that died before its record)."""
        named = {doc["file_id"] async for doc in self.records.find({}, {"file_id": 1})}
        return [doc["_id"] async for doc in self.files.find({"uploadDate": {"$lt": older_than}}, {"_id": 1})
                if doc["_id"] not in named]


def uploaded_now() -> datetime:
    # Mongo keeps milliseconds: a record read back equals the one written.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


__all__ = ["Attachment", "AttachmentStore", "DigestOnlySink", "DuplicateKeyError", "GridFsSink", "Owner", "uploaded_now"]
