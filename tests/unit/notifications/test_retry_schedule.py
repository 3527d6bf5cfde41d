"""The retry schedule of API.md, its jitter, its compression for tests, and Retry-After."""

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from services.notifications.domain.retry_schedule import DELAYS_SECONDS, MAX_ATTEMPTS, RetrySchedule, parse_retry_after

NOMINAL = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]


def test_the_schedule_is_api_md_s():
    assert list(DELAYS_SECONDS) == NOMINAL and MAX_ATTEMPTS == 8
    schedule = RetrySchedule(jitter=0)
    assert [schedule.next_delay(n) for n in range(1, 8)] == NOMINAL[1:]
    assert schedule.next_delay(8) is None  # the eighth failure exhausts it
    assert sum(NOMINAL) / 3600 == pytest.approx(27.58, abs=0.01)


def test_jitter_stays_within_its_band_and_spreads():
    schedule = RetrySchedule(jitter=0.2)
    rng = random.Random(1)
    for attempts_made in range(1, 8):
        nominal = NOMINAL[attempts_made]
        draws = [schedule.next_delay(attempts_made, rng=rng) for _ in range(200)]
        assert all(0.8 * nominal <= d <= 1.2 * nominal for d in draws)
        assert len({round(d, 6) for d in draws}) > 150  # not one value: retries of many deliveries spread
    assert schedule.delay_before(1, rng) == 0  # the first attempt is immediate, jitter or not


def test_scale_compresses_everything_alike():
    schedule = RetrySchedule(scale=0.0002, jitter=0)
    assert [schedule.next_delay(n) for n in range(1, 8)] == pytest.approx([d * 0.0002 for d in NOMINAL[1:]])
    assert sum(schedule.next_delay(n) for n in range(1, 8)) < 20  # the whole schedule in a test


def test_retry_after_is_a_floor_capped_at_a_day():
    schedule = RetrySchedule(scale=0.0002, jitter=0)
    assert schedule.next_delay(1, retry_after=2) == 2
    assert schedule.next_delay(7, retry_after=0.001) == pytest.approx(7.2)  # never sooner than the schedule
    assert RetrySchedule(jitter=0).next_delay(1, retry_after=10 * 86400) == 86400
    assert schedule.next_delay(8, retry_after=1) is None


def test_retry_after_header_forms():
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == pytest.approx(90)
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now) == 0
    for bad in (None, "", "soon", "-5", "1.5e9x"):
        assert parse_retry_after(bad, now) is None
