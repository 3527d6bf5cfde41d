"""Idempotency-Key for every POST that creates something (BLUEPRINT §6, API.md).

The key never gets a table of its own: the resource id is derived from
(caller, key), so the first write of the resource (a stream's first event, a
document's insert) is also the idempotency record, in one atomic write. Whoever
inserts first wins; a retry finds the resource under the same id.

    async def create(body: Model, principal: Provider, key: IdempotencyKey, response: Response):
        request = IdempotentRequest.of(NAMESPACE, principal.organization_id, key, body.model_dump(mode="json"))
        existing = await load(request.resource_id)         # by _id: one round trip
        if existing is not None:
            request.check(stored_fingerprint(existing))    # 409 idempotency_conflict if the body differs
            mark_replayed(response)                        # Idempotent-Replayed: true
            return receipt(existing)                       # the same receipt as the first time
        ... create under request.resource_id, storing request.fingerprint beside it ...

Without a key every request creates a new resource (a random id).
`scope` separates kinds of resource created by one caller ("organization", "client").
The fingerprint is of the validated, normalised body (sorted keys), so two spellings
of the same request (" m0123 " and "M0123") are one request.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Header, Response

from infra.http.problems import Problem

REPLAYED_HEADER = "Idempotent-Replayed"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$",
        description="Makes the POST safe to retry: the same key with the same body returns the first "
        "answer (header Idempotent-Replayed: true); with another body, 409 idempotency_conflict.",
    ),
]
"""The route parameter: `key: IdempotencyKey = None`. Printable ASCII, at most 200 characters."""


def derive_id(namespace: uuid.UUID, caller: str | None, key: str | None, scope: str | None = None) -> str:
    """The resource id for (scope, caller, key): a UUIDv5, or a random UUIDv4 without a key."""
    if not key:
        return str(uuid.uuid4())
    parts = [scope, caller or "", key] if scope else [caller or "", key]
    return str(uuid.uuid5(namespace, ":".join(parts)))


def fingerprint(body: Mapping[str, Any]) -> str:
    """sha256 hex of the JSON body with sorted keys."""
    return hashlib.sha256(orjson.dumps(dict(body), option=orjson.OPT_SORT_KEYS)).hexdigest()


def conflict() -> Problem:
    return Problem(409, "This Idempotency-Key was used with a different body.", code="idempotency_conflict")


@dataclass(frozen=True)
class IdempotentRequest:
    key: str | None
    resource_id: str
    fingerprint: str

    @classmethod
    def of(
        cls, namespace: uuid.UUID, caller: str | None, key: str | None, body: Mapping[str, Any],
        scope: str | None = None,
    ) -> IdempotentRequest:
        return cls(key, derive_id(namespace, caller, key, scope), fingerprint(body))

    @property
    def meta(self) -> dict[str, Any]:
        """What to store beside the resource's first write."""
        return {"idempotency_key": self.key, "body_sha256": self.fingerprint}

    def check(self, stored_fingerprint: str | None) -> None:
        """A replay of this request, or 409 `idempotency_conflict` when the body differs."""
        if stored_fingerprint != self.fingerprint:
            raise conflict()


def stored_fingerprint(meta: Mapping[str, Any] | None) -> str | None:
    return (meta or {}).get("body_sha256")


def mark_replayed(response: Response) -> None:
    response.headers[REPLAYED_HEADER] = "true"
