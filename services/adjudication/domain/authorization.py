"""Approved prior authorizations as adjudication uses them: member, codes, organisation, window, units."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Authorization:
    authorization_id: str
    member_id: str
    organization_id: str
    procedure_codes: frozenset[str]
    approved_units: int
    start_date: date
    end_date: date
    """Inclusive."""

    def fits(self, *, code: str, organization_id: str, day: date) -> bool:
        return (
            code in self.procedure_codes
            and organization_id == self.organization_id
            and self.start_date <= day <= self.end_date
        )


@dataclass(frozen=True)
class AuthorizationMatch:
    authorization: Authorization | None
    """The authorization the line uses, or None: the line is denied CO-197."""
    mismatch: bool = False
    """None found, but one exists for the code (or the claim names one) that does not fit: RARC N54."""


def find_authorization(
    authorizations: Iterable[Authorization], *, code: str, organization_id: str, day: date, units: int,
    used: Mapping[str, int], named_id: str | None,
) -> AuthorizationMatch:
    """The authorization a line uses: the one the claim names first, then by earliest end date.

    `used` is every authorization's units used so far (earlier decisions and earlier
    lines of this claim); a line needs all its units left on one authorization.
    """
    candidates = sorted(authorizations, key=lambda a: (a.authorization_id != named_id, a.end_date, a.authorization_id))
    for candidate in candidates:
        if candidate.fits(code=code, organization_id=organization_id, day=day) and (
            candidate.approved_units - used.get(candidate.authorization_id, 0) >= units
        ):
            return AuthorizationMatch(candidate)
    mismatch = any(a.authorization_id == named_id or code in a.procedure_codes for a in candidates)
    return AuthorizationMatch(None, mismatch=mismatch)
