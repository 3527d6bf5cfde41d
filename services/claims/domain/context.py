"""What the edits need to know besides the claim itself; gathered by the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

DEFAULT_TIMELY_FILING_DAYS = 365


@dataclass(frozen=True)
class CoveragePeriod:
    start: date
    end: date | None = None
    """Last covered day, inclusive; None while coverage is open-ended."""

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class MemberFacts:
    """The claims service's copy of what enrollment said about the member."""

    member_id: str
    date_of_birth: date
    coverage: tuple[CoveragePeriod, ...] = ()

    def covered_on(self, day: date) -> bool:
        return any(period.covers(day) for period in self.coverage)


@dataclass(frozen=True)
class EditContext:
    today: date
    """The plan's business date; future-service and timely-filing edits count from it."""
    organization_npis: frozenset[str]
    """NPIs registered to the submitting organisation (from the caller's token)."""
    organization_tin: str
    timely_filing_days: int = DEFAULT_TIMELY_FILING_DAYS
    member: MemberFacts | None = None
    """None: no member with the claim's id (the claim is refused as member_not_found,
    exactly as for a birth-date mismatch). Callers that just enrolled someone wait
    until the claims service's copy has them."""
    duplicate_of_claim_id: str | None = None
    """An already accepted claim with the same claim_fingerprint, if the caller found one."""
