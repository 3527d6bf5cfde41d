"""Endpoint signing secrets: Standard Webhooks' whsec_ keys and their rotation.

A rotation keeps the previous secret signing for 24 hours, so a receiver can deploy
the new secret without dropping a delivery: during the overlap every delivery carries
one signature per secret, space-separated, and either verifies.
"""

from __future__ import annotations

import base64
import secrets as _random
from datetime import datetime, timedelta

ROTATION_OVERLAP = timedelta(hours=24)
SECRET_BYTES = 32


def new_secret() -> str:
    return "whsec_" + base64.b64encode(_random.token_bytes(SECRET_BYTES)).decode()


def rotated(current: list[dict], now: datetime, new: str) -> list[dict]:
    """The secrets after a rotation: the new one first, the previous ones until their expiry."""
    kept = [dict(s, expires_at=s.get("expires_at") or now + ROTATION_OVERLAP) for s in signing_secrets(current, now)]
    return [{"secret": new, "created_at": now, "expires_at": None}, *kept]


def signing_secrets(stored: list[dict], now: datetime) -> list[dict]:
    """The secrets that sign at `now`: every one not expired (the newest first)."""
    return [s for s in stored if s.get("expires_at") is None or s["expires_at"] > now]
