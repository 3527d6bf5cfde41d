"""Secure messages of an aggregate's thread (a claim's, an authorization's): their bodies.

A thread is between the provider organisation and the payer. Its order and its
members are the owning aggregate's business: posting a message is an event of the
aggregate (e.g. claim.message_posted) carrying the message id, author party and
attachment ids but never the body, so that notifications can say "new message"
without patient data. The body lives here, in the service's own `*_messages`
collection, written before the event (a lost race leaves an unreferenced body, never
an event without its text) and read back by `_id` only.

Shared by every service with threads; the service names the collection and the owner
kind and does the aggregate's part.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError
from pymongo.asynchronous.database import AsyncDatabase

from infra.http.auth import Principal
from infra.idempotency import derive_id, fingerprint
from infra.parties import author_of

MAX_BODY_CHARACTERS = 10_000
MAX_ATTACHMENTS_PER_MESSAGE = 20
_NAMESPACE = uuid.UUID("7c1e5b90-3a2d-4f6e-8b47-1d9e2a6c5f03")

AttachmentId = Annotated[str, AfterValidator(lambda v: _utf8(v)), StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


def _utf8(value: str) -> str:
    # JSON may carry a lone surrogate ("\ud800"); it is no text and cannot be stored.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("invalid_text", "must be text (no lone surrogate code points)") from None
    return value


Text = Annotated[str, AfterValidator(_utf8)]


class MessageBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    body: Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_BODY_CHARACTERS)] = \
        Field(description=f"The message, at most {MAX_BODY_CHARACTERS:,} characters.")
    attachment_ids: Annotated[list[AttachmentId], Field(max_length=MAX_ATTACHMENTS_PER_MESSAGE)] = Field(
        default=[], description="Attachments of the same claim (or authorization) the message refers to.")


def message_id_for(principal: Principal, owner_kind: str, owner_id: str, idempotency_key: str | None) -> str:
    return derive_id(_NAMESPACE, principal.organization_id or principal.client_id, idempotency_key,
                     scope=f"{owner_kind}:{owner_id}:message")


def body_fingerprint(body: str, attachment_ids: Sequence[str]) -> str:
    return fingerprint({"body_sha256": hashlib.sha256(body.encode()).hexdigest(), "attachment_ids": list(attachment_ids)})


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class MessageStore:
    def __init__(self, db: AsyncDatabase, collection: str) -> None:
        self.messages = db[collection]

    async def keep(
        self, *, message_id: str, owner_kind: str, owner_id: str, organization_id: str, body: str,
        attachment_ids: Sequence[str], principal: Principal, sent_at: datetime, extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Stores the body once under its id (a retry keeps the first); returns what is stored."""
        doc = {
            f"{owner_kind}_id": owner_id,
            "owner_kind": owner_kind,
            "organization_id": organization_id,
            "body": body,
            "attachment_ids": list(attachment_ids),
            "author": author_of(principal),
            "sent_at": _instant(sent_at),
            "fingerprint": body_fingerprint(body, attachment_ids),
            **(extra or {}),
        }
        await self.messages.update_one({"_id": message_id}, {"$setOnInsert": doc}, upsert=True)
        stored = await self.messages.find_one({"_id": message_id})
        assert stored is not None
        return stored

    async def get(self, message_id: str) -> dict[str, Any] | None:
        return await self.messages.find_one({"_id": message_id})

    async def get_many(self, message_ids: Sequence[str]) -> list[dict[str, Any]]:
        """In the order asked, by point reads (FerretDB v1 pushes down `_id` equality, not `$in`)."""
        docs = await asyncio.gather(*(self.messages.find_one({"_id": mid}) for mid in message_ids))
        return [doc for doc in docs if doc is not None]


def public(doc: dict[str, Any], owner_kind: str) -> dict[str, Any]:
    shown = {
        "message_id": doc["_id"],
        f"{owner_kind}_id": doc[f"{owner_kind}_id"],
        "body": doc["body"],
        "attachment_ids": list(doc.get("attachment_ids", [])),
        "author": {"party": doc["author"]["party"], "role": doc["author"]["role"]},
        "sent_at": doc["sent_at"],
    }
    if doc.get("info_request_id"):
        shown["info_request_id"] = doc["info_request_id"]
    return shown
