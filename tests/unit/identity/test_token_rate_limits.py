"""The token endpoint's rate limiter, on a clock the tests move by hand."""

import pytest

from services.identity.token_rate_limits import Buckets, Rate, RateLimited, TokenRequestLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, **overrides) -> TokenRequestLimiter:
    rates = dict(
        client_attempts=Rate(10, 30), client_failures=Rate(5, 6),
        address_attempts=Rate(100, 600), address_failures=Rate(20, 30),
    ) | overrides
    return TokenRequestLimiter(clock=clock, **rates)


def test_a_client_fetching_tokens_at_a_normal_rate_is_never_limited():
    clock = Clock()
    limits = limiter(clock)
    # Far more often than a client that keeps its token for its hour: every 5 s for a day.
    for _ in range(24 * 3600 // 5):
        limits.admit("client-a", "10.0.0.1")
        clock.now += 5


def test_a_burst_beyond_the_client_budget_is_refused_with_a_retry_after_that_works():
    clock = Clock()
    limits = limiter(clock)
    for _ in range(10):
        limits.admit("client-a", "10.0.0.1")
    with pytest.raises(RateLimited) as raised:
        limits.admit("client-a", "10.0.0.1")
    assert raised.value.limit == "client"
    assert raised.value.retry_after_seconds == 2  # 30/min: one token every 2 s
    clock.now += raised.value.retry_after_seconds
    limits.admit("client-a", "10.0.0.1")


def test_another_client_from_the_same_address_is_not_limited_by_a_burst():
    clock = Clock()
    limits = limiter(clock)
    for _ in range(10):
        limits.admit("client-a", "10.0.0.1")
    with pytest.raises(RateLimited):
        limits.admit("client-a", "10.0.0.1")
    limits.admit("client-b", "10.0.0.1")


def test_a_refused_attempt_spends_nothing():
    clock = Clock()
    limits = limiter(clock)
    for _ in range(10):
        limits.admit("client-a", "10.0.0.1")
    for _ in range(50):
        with pytest.raises(RateLimited):
            limits.admit("client-a", "10.0.0.1")
    clock.now += 2
    limits.admit("client-a", "10.0.0.1")


def test_failures_are_limited_much_more_strictly_than_successes():
    clock = Clock()
    limits = limiter(clock)
    for _ in range(5):
        limits.admit("client-a", "10.0.0.1")
        limits.failed("client-a", "10.0.0.1")
    with pytest.raises(RateLimited) as raised:
        limits.admit("client-a", "10.0.0.1")
    assert raised.value.limit == "client"
    assert raised.value.retry_after_seconds == 10  # 6 failures/min
    # Five successes in the same moment would have left budget over.
    fresh = limiter(Clock())
    for _ in range(5):
        fresh.admit("client-a", "10.0.0.1")
    fresh.admit("client-a", "10.0.0.1")


def test_concurrent_failures_leave_a_bounded_debt():
    clock = Clock()
    limits = limiter(clock)
    for _ in range(10):  # all admitted before any has failed
        limits.admit("client-a", "10.0.0.1")
    for _ in range(10):
        limits.failed("client-a", "10.0.0.1")
    with pytest.raises(RateLimited) as raised:
        limits.admit("client-a", "10.0.0.1")
    # 5 over budget, capped at one burst below zero: 6 tokens to earn back at 6/min.
    assert raised.value.retry_after_seconds == 60


def test_guessing_across_many_client_ids_from_one_address_is_limited_by_address():
    clock = Clock()
    limits = limiter(clock)
    for i in range(20):
        limits.admit(f"guess-{i}", "203.0.113.9")
        limits.failed(f"guess-{i}", "203.0.113.9")
    with pytest.raises(RateLimited) as raised:
        limits.admit("guess-new", "203.0.113.9")
    assert raised.value.limit == "address"
    limits.admit("guess-new", "198.51.100.7")  # other addresses are unaffected


def test_one_address_with_many_client_ids_is_limited_by_its_attempts():
    clock = Clock()
    limits = limiter(clock)
    for i in range(100):
        limits.admit(f"client-{i}", "192.0.2.1")
    with pytest.raises(RateLimited) as raised:
        limits.admit("client-x", "192.0.2.1")
    assert raised.value.limit == "address" and raised.value.retry_after_seconds == 1


def test_made_up_keys_do_not_grow_memory_without_bound():
    clock = Clock()
    buckets = Buckets(Rate(5, 60), clock, max_keys=100)
    for i in range(1000):
        buckets.spend(f"k{i}")
    assert len(buckets) == 100
    assert buckets.tokens("k0") == 5  # forgotten keys come back full, never emptier


def test_a_zero_rate_never_refills():
    clock = Clock()
    limits = limiter(clock, client_failures=Rate(1, 0))
    limits.admit("c", "a")
    limits.failed("c", "a")
    with pytest.raises(RateLimited) as raised:
        limits.admit("c", "a")
    assert raised.value.retry_after_seconds == 86_400
