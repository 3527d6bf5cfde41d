"""membership.events: published by eligibility; keyed by member id.

Past-tense facts about a member, as stored in the member's stream (the stream is the
record, so these models are both the aggregate's events and the published payloads).

The payloads are complete enough to rebuild the member from its stream alone and
to let consumers (authorizations, adjudication) keep their own coverage copy
without calling us. Types are versioned by name: a breaking change is a new type.

A coverage period may span calendar years; coverage_end None means open-ended
(covered until a later member.coverage_terminated sets an end).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from contracts import topics
from contracts.contract import EventContract


class MemberEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    type: ClassVar[str]

    member_id: str

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class MemberEnrolled(MemberEvent):
    """A new member and their first coverage period.

    Carries PHI (name, birth date, gender) because the stream is the member's only
    record; publish it only on topics whose consumers are entitled to it.
    """

    type: ClassVar[str] = "member.enrolled"

    first_name: str
    last_name: str
    date_of_birth: date
    gender: str
    plan_id: str
    coverage_start: date
    coverage_end: date | None = None
    coverage_tier: Literal["individual", "family"] = "individual"
    """family: the member's accumulators also count towards the family's deductible and
    out-of-pocket maximum (met when either the individual or the family amount is reached)."""
    subscriber_member_id: str | None = None
    """A dependent's policy holder (implies family); None for the subscriber themselves."""

    @property
    def family_id(self) -> str | None:
        return family_id_of(self.member_id, self.coverage_tier, self.subscriber_member_id)


def family_id_of(member_id: str, coverage_tier: str | None, subscriber_member_id: str | None) -> str | None:
    """The family policy a member counts towards: the subscriber's member id (a dependent's
    subscriber, or the member on a family policy of their own); None on an individual policy.
    The one rule every reader of member.enrolled applies."""
    if subscriber_member_id:
        return subscriber_member_id
    return member_id if coverage_tier == "family" else None


class MemberReenrolled(MemberEvent):
    """An existing member starts a new coverage period after the last one ended."""

    type: ClassVar[str] = "member.reenrolled"

    plan_id: str
    coverage_start: date
    coverage_end: date | None = None


class CoverageTerminated(MemberEvent):
    """The current coverage period now ends on coverage_end (retroactive or future)."""

    type: ClassVar[str] = "member.coverage_terminated"

    plan_id: str
    coverage_start: date
    coverage_end: date
    previous_coverage_end: date | None


class PlanChanged(MemberEvent):
    """The member moves to plan_id from effective_date.

    previous_coverage_end is the day before effective_date, or None when the change
    takes effect on the day the previous period started: that period is then
    replaced rather than cut to zero days. coverage_end is the previous period's
    end carried over (None when it was open-ended), so a pending termination holds.
    """

    type: ClassVar[str] = "member.plan_changed"

    previous_plan_id: str
    previous_coverage_end: date | None
    plan_id: str
    effective_date: date
    coverage_end: date | None = None


EVENT_TYPES: Mapping[str, type[MemberEvent]] = {
    cls.type: cls for cls in (MemberEnrolled, MemberReenrolled, CoverageTerminated, PlanChanged)
}


def event_from_payload(event_type: str, payload: Mapping[str, Any]) -> MemberEvent:
    try:
        cls = EVENT_TYPES[event_type]
    except KeyError:
        raise ValueError(f"unknown member event type {event_type!r}") from None
    return cls.model_validate(payload)


CONTRACTS = (
    EventContract(MemberEnrolled.type, topics.MEMBERSHIP, MemberEnrolled, "A member enrolled with a first coverage period."),
    EventContract(MemberReenrolled.type, topics.MEMBERSHIP, MemberReenrolled, "A member started a new coverage period."),
    EventContract(CoverageTerminated.type, topics.MEMBERSHIP, CoverageTerminated, "A member's coverage now ends on a date."),
    EventContract(PlanChanged.type, topics.MEMBERSHIP, PlanChanged, "A member moved to another plan from a date."),
)

MEMBERSHIP_EVENT_TYPES = tuple(c.type for c in CONTRACTS)
