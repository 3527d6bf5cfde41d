"""Whether the plan covers a member on a date of service, from adjudication's own copy.

Defence in depth: the claims intake already checks eligibility, but adjudication
pays, so it never pays a line for a member it cannot identify or who is not covered
on the line's date of service. The copy is folded from membership.events here
(pure), and kept by an adapter (services/adjudication/members.py).

Only what the decision needs is kept: birth date (to identify the patient) and the
coverage periods with their plan; no names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from contracts.events.membership import family_id_of
from contracts.identifiers import normalize_member_id

CARC_BEFORE_COVERAGE = "26"
"""Expenses incurred prior to coverage."""
CARC_AFTER_COVERAGE = "27"
"""Expenses incurred after coverage terminated."""
CARC_PATIENT_NOT_IDENTIFIED = "31"
"""Patient cannot be identified as our insured."""


@dataclass(frozen=True)
class CoveragePeriod:
    plan_id: str
    start: date
    end: date | None
    """Last covered day, inclusive; None while open-ended."""

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class MemberCoverage:
    member_id: str
    date_of_birth: date
    periods: tuple[CoveragePeriod, ...]
    version: int
    """Position of the last membership event folded in (the member stream's version)."""
    family_id: str | None = None
    """The family policy whose deductible and out-of-pocket maximum the member also counts
    towards (the subscriber's member id); None on an individual policy."""

    @property
    def policy_id(self) -> str:
        """Whose ledger the member's decisions go to: the family's, or the member's own."""
        return self.family_id or self.member_id

    def plan_on(self, day: date) -> str | None:
        for period in self.periods:
            if period.covers(day):
                return period.plan_id
        return None


def coverage_denial(member: MemberCoverage | None, *, date_of_birth: date, date_of_service: date) -> str | None:
    """The CARC that refuses a line for want of coverage, or None when the plan covers it.

    Unknown to the copy or a different birth date: the patient is not identified
    as our insured (31), whatever the reason (never enrolled, a typo, a copy that
    lags): an unidentified member is never paid. A date of service outside every
    period: after coverage terminated (27) when some period ended before it, which
    also covers a gap between two periods; otherwise before coverage began (26).
    """
    if member is None or member.date_of_birth != date_of_birth:
        return CARC_PATIENT_NOT_IDENTIFIED
    if any(period.covers(date_of_service) for period in member.periods):
        return None
    if any(period.end is not None and period.end < date_of_service for period in member.periods):
        return CARC_AFTER_COVERAGE
    return CARC_BEFORE_COVERAGE


def fold_membership_event(
    member: MemberCoverage | None, event_type: str, payload: Mapping[str, Any], version: int, *, member_id: str
) -> MemberCoverage | None:
    """The copy after one membership event, which becomes its version; None when there is
    no copy yet and the event cannot start one (anything but an enrollment).

    Which events apply and in what order (a redelivery, a gap) is the projection's
    business (infra/projection.py), not the fold's: the same fold serves the live
    copy and a refold of the member's history over a parked event.
    """
    if member is None:
        if event_type != "member.enrolled":
            return None
        return MemberCoverage(
            member_id=member_id,
            date_of_birth=_day(payload["date_of_birth"]),
            periods=(_period(payload["plan_id"], payload["coverage_start"], payload.get("coverage_end")),),
            version=version,
            family_id=_family_id(member_id, payload),
        )
    periods = list(member.periods)
    if event_type == "member.reenrolled":
        periods.append(_period(payload["plan_id"], payload["coverage_start"], payload.get("coverage_end")))
    elif event_type == "member.coverage_terminated":
        start = _day(payload["coverage_start"])
        periods = [replace(p, end=_day(payload["coverage_end"])) if p.start == start else p for p in periods]
    elif event_type == "member.plan_changed":
        if periods:
            if payload.get("previous_coverage_end") is None:
                periods.pop()  # the change took effect on the period's first day: replaced
            else:
                periods[-1] = replace(periods[-1], end=_day(payload["previous_coverage_end"]))
        periods.append(_period(payload["plan_id"], payload["effective_date"], payload.get("coverage_end")))
    # Other types (none today) move the version and leave coverage as it was.
    return replace(member, periods=tuple(periods), version=version)


def _family_id(member_id: str, payload: Mapping[str, Any]) -> str | None:
    subscriber = payload.get("subscriber_member_id")
    return family_id_of(member_id, payload.get("coverage_tier"), normalize_member_id(subscriber) if subscriber else None)


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _period(plan_id: str, start: date | str, end: date | str | None) -> CoveragePeriod:
    return CoveragePeriod(plan_id=plan_id, start=_day(start), end=_day(end) if end else None)
