"""Uploading an attachment: stream, check, store, record; idempotent by Idempotency-Key.

The attachment id is derived from (organisation, owner, key): a retry of the same
upload finds the record. Its bytes are read again (they are the request) but only
hashed, and the same bytes and document type return the first receipt; different
ones are a 409 idempotency_conflict. Without a key every upload is a new attachment.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pymongo.errors import DuplicateKeyError

from infra.attachments.policy import MAX_ATTACHMENT_BYTES, AttachmentRejected, check_document_type
from infra.attachments.store import Attachment, AttachmentStore, DigestOnlySink, Owner, uploaded_now
from infra.attachments.upload import read_upload
from infra.http.auth import Principal
from infra.http.problems import Problem
from infra.idempotency import conflict, derive_id
from infra.parties import author_of

_NAMESPACE = uuid.UUID("2f6d9a1e-4b3c-4e8a-9d17-6a5b0c3e8f21")


@dataclass(frozen=True)
class Uploaded:
    attachment: Attachment
    replayed: bool


def rejected(exc: AttachmentRejected) -> Problem:
    detail = {413: "The attachment is too large.", 415: "The attachment's type is not accepted.",
              400: "The upload could not be read."}.get(exc.status, "The upload failed validation.")
    return Problem(exc.status, f"{detail} {exc.message}.", code=exc.code if exc.status != 422 else "validation",
                   errors=[{"loc": exc.loc, "code": exc.code, "message": exc.message}])


class AttachmentUploads:
    def __init__(self, store: AttachmentStore, *, limit: int = MAX_ATTACHMENT_BYTES) -> None:
        self.store = store
        self.limit = limit

    async def upload(
        self, owner: Owner, chunks: AsyncIterator[bytes], content_type: str | None, principal: Principal,
        idempotency_key: str | None,
    ) -> Uploaded:
        attachment_id = derive_id(_NAMESPACE, principal.organization_id or principal.client_id, idempotency_key,
                                  scope=f"{owner.kind}:{owner.id}")
        existing = await self.store.get(attachment_id) if idempotency_key else None
        sink = DigestOnlySink() if existing else self.store.sink(owner)
        try:
            form = await read_upload(chunks, content_type, sink, limit=self.limit)
            document_type = check_document_type(form.fields.get("document_type"))
        except AttachmentRejected as exc:
            await sink.abort()
            raise rejected(exc) from None
        assert form.file is not None
        if existing is not None:
            return self._replay(existing, form.file.sha256, document_type)
        await sink.close()
        assert not isinstance(sink, DigestOnlySink)
        attachment = Attachment(
            attachment_id=attachment_id, owner_kind=owner.kind, owner_id=owner.id,
            organization_id=owner.organization_id, file_id=sink.file_id, document_type=document_type,
            content_type=form.file.content_type, sha256=form.file.sha256, size=form.file.size,
            filename=form.file.filename, uploaded_at=uploaded_now(), uploaded_by=author_of(principal),
        )
        try:
            await self.store.insert(attachment)
        except DuplicateKeyError:
            # A concurrent retry with the same key recorded first: ours is not needed.
            await sink.delete()
            winner = await self.store.get(attachment_id)
            assert winner is not None
            return self._replay(winner, attachment.sha256, document_type)
        return Uploaded(attachment, replayed=False)

    @staticmethod
    def _replay(existing: Attachment, sha256: str, document_type: str) -> Uploaded:
        if existing.sha256 != sha256 or existing.document_type != document_type:
            raise conflict()
        return Uploaded(existing, replayed=True)
