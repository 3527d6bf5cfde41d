"""The member aggregate's state, rebuilt only by applying its events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from typing import Literal

from pydantic import BaseModel, ConfigDict

from .coverage import CoverageSegment, coverage_on
from contracts.events.membership import (
    CoverageTerminated,
    MemberEnrolled,
    MemberEvent,
    MemberReenrolled,
    PlanChanged,
    family_id_of,
)


class InvalidEventSequence(ValueError):
    """The stream holds an event that cannot follow the ones before it (corruption or a bug)."""


class Member(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    member_id: str
    first_name: str
    last_name: str
    date_of_birth: date
    gender: str
    segments: tuple[CoverageSegment, ...]
    version: int
    """How many events built this state: the expected version for the next append."""
    coverage_tier: Literal["individual", "family"] = "individual"
    subscriber_member_id: str | None = None
    """A dependent's policy holder; None for a subscriber and on an individual policy."""

    @property
    def family_id(self) -> str | None:
        """The family policy the member's accumulators also count towards (the subscriber's id)."""
        return family_id_of(self.member_id, self.coverage_tier, self.subscriber_member_id)

    @property
    def current_segment(self) -> CoverageSegment:
        # Segments never overlap and are appended in date order, so the last is current.
        return self.segments[-1]

    def coverage_on(self, day: date) -> CoverageSegment | None:
        return coverage_on(self.segments, day)


def apply(member: Member | None, event: MemberEvent) -> Member:
    if isinstance(event, MemberEnrolled):
        if member is not None:
            raise InvalidEventSequence(f"{event.type} on an existing member")
        return Member(
            member_id=event.member_id,
            first_name=event.first_name,
            last_name=event.last_name,
            date_of_birth=event.date_of_birth,
            gender=event.gender,
            segments=(CoverageSegment(plan_id=event.plan_id, start=event.coverage_start, end=event.coverage_end),),
            version=1,
            # A dependent is on a family policy whatever the event says (MemberEnrolled.family_id).
            coverage_tier="family" if event.family_id else "individual",
            subscriber_member_id=event.subscriber_member_id,
        )
    if member is None:
        raise InvalidEventSequence(f"{event.type} before member.enrolled")
    if event.member_id != member.member_id:
        raise InvalidEventSequence(f"{event.type} for another member")
    return member.model_copy(update={"segments": _segments_after(member, event), "version": member.version + 1})


def replay(events: Iterable[MemberEvent]) -> Member | None:
    member: Member | None = None
    for event in events:
        member = apply(member, event)
    return member


def _segments_after(member: Member, event: MemberEvent) -> tuple[CoverageSegment, ...]:
    *earlier, current = member.segments
    if isinstance(event, MemberReenrolled):
        return (
            *member.segments,
            CoverageSegment(plan_id=event.plan_id, start=event.coverage_start, end=event.coverage_end),
        )
    if isinstance(event, CoverageTerminated):
        return (*earlier, current.model_copy(update={"end": event.coverage_end}))
    if isinstance(event, PlanChanged):
        new = CoverageSegment(plan_id=event.plan_id, start=event.effective_date, end=event.coverage_end)
        if event.previous_coverage_end is None:
            return (*earlier, new)
        return (*earlier, current.model_copy(update={"end": event.previous_coverage_end}), new)
    raise InvalidEventSequence(f"no rule to apply {type(event).__name__}")
