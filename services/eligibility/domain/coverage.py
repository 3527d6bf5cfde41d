"""Coverage periods and which one applies on a given day."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pydantic import BaseModel, ConfigDict


class CoverageSegment(BaseModel):
    """One uninterrupted period on one plan; both ends inclusive, end None = open."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plan_id: str
    start: date
    end: date | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


def coverage_on(segments: Iterable[CoverageSegment], day: date) -> CoverageSegment | None:
    return next((segment for segment in segments if segment.covers(day)), None)


def nearest_coverage(segments: Iterable[CoverageSegment], day: date) -> CoverageSegment | None:
    """The segment to show when none covers `day`.

    The most recent one that ended before the day (the provider learns the coverage
    terminated, and when); failing that, the first one that starts later (the
    provider learns to come back after that date).
    """
    segments = list(segments)
    ended = [s for s in segments if s.end is not None and s.end < day]
    if ended:
        return max(ended, key=lambda s: s.end)
    upcoming = [s for s in segments if s.start > day]
    return min(upcoming, key=lambda s: s.start) if upcoming else None
