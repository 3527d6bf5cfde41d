"""Opaque page cursors over an ordered list known to the server (a thread's message ids).

A cursor names the position after the last item shown; it is base64url JSON so that a
client treats it as a token, not a number to do arithmetic on. Pure.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import orjson

from infra.http.problems import Problem

T = TypeVar("T")
_VERSION = 1


def encode_position(position: int) -> str:
    raw = orjson.dumps({"v": _VERSION, "after": position})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_position(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        position = data["after"]
        if data.get("v") != _VERSION or not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise ValueError(cursor)
        return position
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise Problem(422, "The cursor is not one this API issued.", code="validation",
                      errors=[{"loc": "query.cursor", "code": "invalid_cursor", "message": "unknown cursor"}]) from None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def page_of(ordered: Sequence[T], cursor: str | None, limit: int) -> Page[T]:
    """The `limit` items after the cursor's position; next_cursor only when more follow."""
    start = decode_position(cursor) if cursor else 0
    items = list(ordered[start:start + limit])
    end = start + len(items)
    return Page(items, encode_position(end) if end < len(ordered) else None)
