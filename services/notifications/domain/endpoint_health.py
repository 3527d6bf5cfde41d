"""When an endpoint that keeps failing is disabled: after failing for 5 days without a success.

An endpoint starts failing at its first failed attempt after a success (or after its
creation) and stops failing at its next success. One failure does not disable it,
a long outage does: by then every delivery of the first day is exhausted anyway and
each new event only adds another day of futile retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DISABLE_AFTER = timedelta(days=5)


@dataclass(frozen=True)
class HealthChange:
    failing_since: datetime | None
    disable: bool = False


def after_success() -> HealthChange:
    return HealthChange(failing_since=None)


def after_failure(failing_since: datetime | None, now: datetime, disable_after: timedelta = DISABLE_AFTER) -> HealthChange:
    if failing_since is None:
        return HealthChange(failing_since=now)
    return HealthChange(failing_since=failing_since, disable=now - failing_since >= disable_after)
