"""A batch of claims: each one edited and accepted or rejected on its own. Pure."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

MAX_BATCH_CLAIMS = 1000


def claim_key(batch_id: str, index: int) -> str:
    """The Idempotency-Key of the batch's claim at `index`: a replay of the batch stores no claim twice."""
    return f"batch:{batch_id}:{index}"


def received(index: int, claim_id: str) -> dict[str, Any]:
    return {"index": index, "status": "received", "claim_id": claim_id}


def _storable(text: str) -> str:
    # A loc can quote a key of the request; a lone surrogate there (valid JSON, not UTF-8)
    # would make the kept answer unstorable and unprintable.
    return str(text).encode("utf-8", "replace").decode("utf-8")


def rejected(index: int, errors: Iterable[Mapping[str, str]]) -> dict[str, Any]:
    return {"index": index, "status": "rejected",
            "errors": [{"loc": _storable(e["loc"]), "code": _storable(e["code"]), "message": _storable(e["message"])}
                       for e in errors]}


def body_fingerprint(raw: Any) -> str:
    """sha256 of the batch as sent: canonical JSON, ASCII-escaped so that any JSON string
    (lone surrogates included) has a fingerprint."""
    return hashlib.sha256(json.dumps(raw, sort_keys=True, ensure_ascii=True, default=str).encode()).hexdigest()


def summary(batch_id: str, received_at: str, results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The batch's answer: results in submission order, with the counts."""
    ordered = sorted(results, key=lambda r: r["index"])
    if [r["index"] for r in ordered] != list(range(len(ordered))):
        raise ValueError("a batch has exactly one result per claim, indexed from 0")
    accepted = sum(1 for r in ordered if r["status"] == "received")
    return {"batch_id": batch_id, "received_at": received_at, "accepted": accepted,
            "rejected": len(ordered) - accepted, "results": [dict(r) for r in ordered]}
