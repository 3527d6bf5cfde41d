"""How often a client id, and a remote address, may ask for a token.

Token buckets, in process: each identity replica holds its own buckets, so with R
replicas behind a load balancer a caller gets up to R times the configured rates.
That is acceptable for what the limits are for (keeping scrypt from being used as a
CPU lever, and making secret guessing slow), and it needs no shared store; a limit
that must hold cluster-wide belongs in the ingress or a shared store instead.

Every attempt spends one token of its client id's and its address's attempt
buckets before any work is done. A failed attempt (unknown client or wrong secret)
also spends one token of the much smaller failure buckets, and an attempt is
refused while a failure bucket is empty: guessing is throttled hard, while a client
that fetches a token now and then (they last an hour) never comes near a limit.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    burst: float
    per_minute: float

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


class RateLimited(Exception):
    def __init__(self, retry_after_seconds: int, limit: str) -> None:
        super().__init__(f"rate limited by {limit}")
        self.retry_after_seconds = retry_after_seconds
        self.limit = limit  # "client" or "address": which key ran dry, for metrics


class Buckets:
    """One token bucket per key, refilled lazily; the least recently used go first past max_keys.

    Forgetting a key only ever forgives it: a forgotten bucket comes back full. The
    cap keeps a flood of made-up client ids from growing memory without bound.
    """

    def __init__(self, rate: Rate, clock: Callable[[], float], max_keys: int = 50_000) -> None:
        self.rate = rate
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def tokens(self, key: str) -> float:
        now = self._clock()
        tokens, at = self._buckets.get(key, (self.rate.burst, now))
        return min(self.rate.burst, tokens + (now - at) * self.rate.per_second)

    def wait_seconds(self, key: str) -> float:
        """How long until one token is there (0: now)."""
        missing = 1.0 - self.tokens(key)
        if missing <= 0:
            return 0.0
        return math.inf if self.rate.per_second <= 0 else missing / self.rate.per_second

    def spend(self, key: str) -> None:
        # May go below zero once concurrent attempts were admitted together; the debt
        # is capped at one burst so that a lock-out stays bounded.
        tokens = max(self.tokens(key) - 1.0, -self.rate.burst)
        self._buckets[key] = (tokens, self._clock())
        self._buckets.move_to_end(key)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)


class TokenRequestLimiter:
    def __init__(
        self,
        *,
        client_attempts: Rate,
        client_failures: Rate,
        address_attempts: Rate,
        address_failures: Rate,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 50_000,
    ) -> None:
        self._by_limit = {
            "client": (Buckets(client_attempts, clock, max_keys), Buckets(client_failures, clock, max_keys)),
            "address": (Buckets(address_attempts, clock, max_keys), Buckets(address_failures, clock, max_keys)),
        }

    def admit(self, client_id: str, address: str) -> None:
        """Spends one attempt of each key, or raises RateLimited (spending nothing)."""
        keys = {"client": client_id, "address": address}
        waits = {
            limit: max(attempts.wait_seconds(keys[limit]), failures.wait_seconds(keys[limit]))
            for limit, (attempts, failures) in self._by_limit.items()
        }
        limit, wait = max(waits.items(), key=lambda item: item[1])
        if wait > 0:
            raise RateLimited(_whole_seconds(wait), limit)
        for limit, (attempts, _) in self._by_limit.items():
            attempts.spend(keys[limit])

    def failed(self, client_id: str, address: str) -> None:
        keys = {"client": client_id, "address": address}
        for limit, (_, failures) in self._by_limit.items():
            failures.spend(keys[limit])


def _whole_seconds(wait: float) -> int:
    # Retry-After is whole seconds; rounding up means a caller that obeys it gets in.
    return 86_400 if math.isinf(wait) else max(1, math.ceil(wait))
