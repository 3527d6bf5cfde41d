"""When to try a delivery again: the schedule of API.md, with jitter, and Retry-After.

Attempt 1 goes at once; after a failure the next waits about 5 s, 5 min, 30 min,
2 h, 5 h, 10 h and 10 h (eight attempts over about 27.6 hours); after the eighth
failure the delivery is exhausted. Jitter spreads the retries of many deliveries
that failed together (a receiver back from an outage is not hit by all of them in
the same second). `scale` compresses the schedule for tests (0.001: 5 s -> 5 ms).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

DELAYS_SECONDS: tuple[float, ...] = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
"""Wait before attempt n+1 (index n); attempt 1 waits nothing."""

MAX_ATTEMPTS = len(DELAYS_SECONDS)


@dataclass(frozen=True)
class RetrySchedule:
    scale: float = 1.0
    jitter: float = 0.2
    """Each wait is drawn from [1 - jitter, 1 + jitter] times its nominal value."""
    max_retry_after_seconds: float = 24 * 3600
    """A receiver's Retry-After is honoured up to this long."""

    def delay_before(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt number `attempt` (1-based) after the previous one failed."""
        nominal = DELAYS_SECONDS[attempt - 1] * self.scale
        if nominal == 0 or self.jitter == 0:
            return nominal
        spread = (rng or random).uniform(1 - self.jitter, 1 + self.jitter)
        return nominal * spread

    def next_delay(self, attempts_made: int, retry_after: float | None = None, rng: random.Random | None = None) -> float | None:
        """Seconds until the next attempt after `attempts_made` failed ones; None: exhausted.

        A Retry-After (429/503) is a floor: the receiver said when it can take more,
        and it is never retried sooner, nor sooner than the schedule would.
        """
        if attempts_made >= MAX_ATTEMPTS:
            return None
        delay = self.delay_before(attempts_made + 1, rng)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after_seconds))
        return delay


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
