"""Enrollment commands: check the rules against current state, return the events to append.

Commands never mutate state; the caller appends the events at `member.version`
(optimistic concurrency) and gets the new state from `apply`. A command that
would change nothing returns no events, so a retried request is harmless.

A plan id names a product whose benefit design renews every calendar year, so a
coverage period is not bounded by any plan year: it may span years, and an
enrollment without coverage_end is open-ended (end None) until a termination sets
one. Deductibles and out-of-pocket maximums still reset each calendar year; that is
the accumulators' business, not the coverage period's.
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict

from refdata.plans import Catalogue, Plan, UnknownPlanError

from .errors import DomainError, refuse_all
from .family import Tier, family_policy, family_problems
from contracts.events.membership import CoverageTerminated, MemberEnrolled, MemberEvent, MemberReenrolled, PlanChanged
from .member import Member

ONE_DAY = timedelta(days=1)


class Demographics(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    first_name: str
    last_name: str
    date_of_birth: date
    gender: str


def enroll(
    member_id: str,
    demographics: Demographics,
    plan_id: str,
    coverage_start: date,
    coverage_end: date | None,
    catalogue: Catalogue,
    *,
    coverage_tier: Tier | None = None,
    subscriber_member_id: str | None = None,
    subscriber: Member | None = None,
) -> list[MemberEvent]:
    """A new member (the caller appends to a new stream, expected version 0).

    subscriber is the member named by subscriber_member_id as the caller loaded it
    (None when there is none); every problem found is refused at once.
    """
    plan = _plan(catalogue, plan_id)
    problems: list[DomainError] = []
    if coverage_start < demographics.date_of_birth:
        problems.append(DomainError(
            "coverage_start_before_birth",
            "coverage_start is before the member's date of birth",
            loc="coverage_start",
        ))
    try:
        _check_period(coverage_start, coverage_end)
    except DomainError as exc:
        problems.append(exc)
    problems += family_problems(coverage_tier, subscriber_member_id, subscriber)
    refuse_all(problems)
    policy = family_policy(coverage_tier, subscriber_member_id, subscriber)
    return [
        MemberEnrolled(
            member_id=member_id,
            plan_id=plan.id,
            coverage_start=coverage_start,
            coverage_end=coverage_end,
            coverage_tier=policy.coverage_tier,
            subscriber_member_id=policy.subscriber_member_id,
            **demographics.model_dump(),
        )
    ]


def reenroll(
    member: Member,
    plan_id: str,
    coverage_start: date,
    coverage_end: date | None,
    catalogue: Catalogue,
) -> list[MemberEvent]:
    plan = _plan(catalogue, plan_id)
    last = member.current_segment
    if last.end is None or coverage_start <= last.end:
        raise DomainError(
            "coverage_overlaps",
            f"coverage_start {coverage_start} must be after the current coverage period's end "
            f"({last.end or 'open-ended'})",
            loc="coverage_start",
        )
    _check_period(coverage_start, coverage_end)
    return [
        MemberReenrolled(
            member_id=member.member_id, plan_id=plan.id, coverage_start=coverage_start, coverage_end=coverage_end
        )
    ]


def terminate(member: Member, coverage_end: date) -> list[MemberEvent]:
    """End the current coverage period on coverage_end (inclusive); may be retroactive."""
    current = member.current_segment
    if coverage_end == current.end:
        return []
    if coverage_end < current.start:
        raise DomainError(
            "coverage_end_before_start",
            f"coverage_end {coverage_end} is before the current coverage period's start {current.start}",
            loc="coverage_end",
        )
    if current.end is not None and coverage_end > current.end:
        raise DomainError(
            "coverage_end_after_current_end",
            f"termination cannot extend coverage past its current end {current.end}",
            loc="coverage_end",
        )
    return [
        CoverageTerminated(
            member_id=member.member_id,
            plan_id=current.plan_id,
            coverage_start=current.start,
            coverage_end=coverage_end,
            previous_coverage_end=current.end,
        )
    ]


def change_plan(member: Member, new_plan_id: str, effective_date: date, catalogue: Catalogue) -> list[MemberEvent]:
    """Move the member to new_plan_id from effective_date without a gap in coverage."""
    plan = _plan(catalogue, new_plan_id)
    current = member.current_segment
    if plan.id == current.plan_id:
        raise DomainError("plan_unchanged", f"the member is already on {plan.id}", loc="plan_id")
    if effective_date < current.start:
        raise DomainError(
            "effective_date_before_coverage_start",
            f"effective_date {effective_date} is before the current coverage period's start {current.start}",
            loc="effective_date",
        )
    if current.end is not None and effective_date > current.end + ONE_DAY:
        raise DomainError(
            "no_coverage_to_change",
            f"coverage ended {current.end}; a later start is a re-enrollment, not a plan change",
            loc="effective_date",
        )
    # The new period keeps the current one's end: open-ended stays open-ended and a
    # pending termination still holds. A change the day after coverage ended
    # continues it, open-ended, like a fresh enrollment without an end.
    keeps_end = current.end is None or effective_date <= current.end
    return [
        PlanChanged(
            member_id=member.member_id,
            previous_plan_id=current.plan_id,
            previous_coverage_end=None if effective_date == current.start else effective_date - ONE_DAY,
            plan_id=plan.id,
            effective_date=effective_date,
            coverage_end=current.end if keeps_end else None,
        )
    ]


def _plan(catalogue: Catalogue, plan_id: str) -> Plan:
    try:
        return catalogue.plan(plan_id)
    except UnknownPlanError:
        raise DomainError("unknown_plan", f"no plan {plan_id!r} in the catalogue", loc="plan_id") from None


def _check_period(start: date, end: date | None) -> None:
    if end is not None and end < start:
        raise DomainError(
            "coverage_end_before_start", f"coverage_end {end} is before coverage_start {start}", loc="coverage_end"
        )
