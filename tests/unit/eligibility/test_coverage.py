from datetime import date

import pytest

from services.eligibility.domain import CoverageSegment, coverage_on, nearest_coverage

SILVER = CoverageSegment(plan_id="silver-hmo-2026", start=date(2026, 1, 1), end=date(2026, 3, 31))
GOLD = CoverageSegment(plan_id="gold-hmo-2026", start=date(2026, 4, 1), end=date(2026, 6, 30))
BRONZE = CoverageSegment(plan_id="bronze-epo-2026", start=date(2026, 9, 1), end=None)
SEGMENTS = [SILVER, GOLD, BRONZE]


@pytest.mark.parametrize(
    "day,expected",
    [
        (date(2025, 12, 31), None),  # the day before the first start
        (date(2026, 1, 1), SILVER),  # start day is covered
        (date(2026, 3, 31), SILVER),  # end day is covered
        (date(2026, 4, 1), GOLD),  # a plan change hands over at midnight
        (date(2026, 6, 30), GOLD),
        (date(2026, 7, 1), None),  # the gap after termination
        (date(2026, 8, 31), None),
        (date(2026, 9, 1), BRONZE),
        (date(2030, 1, 1), BRONZE),  # open-ended
    ],
)
def test_coverage_on_is_inclusive_at_both_ends(day, expected):
    assert coverage_on(SEGMENTS, day) == expected


def test_no_segments_means_no_coverage():
    assert coverage_on([], date(2026, 1, 1)) is None


@pytest.mark.parametrize(
    "day,expected",
    [
        (date(2025, 6, 1), SILVER),  # before any coverage: the next one
        (date(2026, 7, 15), GOLD),  # in the gap: the one that just ended
    ],
)
def test_nearest_coverage_prefers_the_last_ended_then_the_next(day, expected):
    assert nearest_coverage(SEGMENTS, day) == expected


def test_nearest_coverage_of_nothing_is_none():
    assert nearest_coverage([], date(2026, 1, 1)) is None
