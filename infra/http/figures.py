"""Query parameters shared by the analytics endpoints: a date range and whose figures.

Bad parameters are 422 problem+json with the parameter named, never a 500: the range
is checked here, before any bucket is read.
"""

from __future__ import annotations

from datetime import date

from infra.buckets import ALL
from infra.http.auth import Principal
from infra.http.problems import Problem

MAX_RANGE_DAYS = 400
"""A little over a year: a year-on-year comparison fits; longer ranges read too many buckets."""


def date_range(start: date, end: date) -> tuple[date, date]:
    if start > end:
        raise Problem(422, "`from` is after `to`.", code="invalid_range",
                      errors=[{"loc": "query.from", "code": "invalid_range", "message": "must be on or before `to`"}])
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise Problem(422, f"The range is longer than {MAX_RANGE_DAYS} days.", code="range_too_long",
                      errors=[{"loc": "query.to", "code": "range_too_long", "message": f"at most {MAX_RANGE_DAYS} days from `from`"}])
    return start, end


def scope(principal: Principal, organization_id: str | None) -> str:
    """The organisation whose buckets answer: a provider's own, or (payer roles) one or all."""
    if principal.role == "provider":
        if organization_id is not None and organization_id != principal.organization_id:
            raise Problem(403, "A provider sees only its own organisation's figures.", code="forbidden")
        if principal.organization_id is None:
            raise Problem(403, "The token names no organisation.", code="forbidden")
        return principal.organization_id
    if organization_id is not None and (not organization_id or organization_id == ALL or ":" in organization_id):
        raise Problem(422, "Not an organisation id.", code="invalid_parameter",
                      errors=[{"loc": "query.organization_id", "code": "invalid_parameter", "message": "not an organisation id"}])
    return organization_id or ALL
