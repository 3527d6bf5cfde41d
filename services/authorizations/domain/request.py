"""A prior-authorization request as a provider sends it, and every check before acceptance. Pure.

Every check runs and every failure is reported (422 naming each). As for claims, one
answer for an unknown member and a birth-date mismatch, and coverage is only judged
for a member whose identity matched: the answer must not tell a stranger who is insured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.identifiers import normalize_member_id
from refdata import codes

MAX_WINDOW_DAYS = 366
"""An authorization is valid for at most about a year."""
MAX_RETRO_DAYS = 30
"""A request may start at most this many days ago (a retro request for care already begun)."""
MAX_LEAD_DAYS = 365
"""... and at most this many days ahead."""
MAX_CLINICAL_NOTES = 20_000

Code = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=10)]


class AuthorizationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    member_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    date_of_birth: date
    requesting_provider_npi: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10)]
    urgency: Literal["standard", "expedited"] = "standard"
    procedure_codes: Annotated[list[Code], Field(min_length=1, max_length=10)]
    diagnosis_codes: Annotated[list[Code], Field(min_length=1, max_length=12)]
    units: Annotated[int, Field(strict=True, ge=1, le=999)]
    start_date: date
    end_date: date
    clinical_notes: Annotated[str, StringConstraints(max_length=MAX_CLINICAL_NOTES)] = Field(
        default="", description="Patient data: stored with the request, shown to those who may read it, never "
        "logged or published.")

    @property
    def normalized_member_id(self) -> str:
        return normalize_member_id(self.member_id)


@dataclass(frozen=True)
class CoveragePeriod:
    start: date
    end: date | None
    plan_id: str

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class MemberFacts:
    member_id: str
    date_of_birth: date
    coverage: tuple[CoveragePeriod, ...] = ()

    def plan_on(self, day: date) -> str | None:
        return next((p.plan_id for p in reversed(self.coverage) if p.covers(day)), None)


@dataclass(frozen=True)
class RequestContext:
    today: date
    organization_npis: frozenset[str]
    member: MemberFacts | None


def _problem(loc: str, code: str, message: str) -> dict[str, str]:
    return {"loc": loc, "code": code, "message": message}


MEMBER_NOT_FOUND = _problem("member_id", "member_not_found", "No member with this id and date of birth.")


def check_request(request: AuthorizationRequest, context: RequestContext) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []
    member = context.member
    if member is None or member.date_of_birth != request.date_of_birth:
        problems.append(MEMBER_NOT_FOUND)
    elif member.plan_on(request.start_date) is None:
        problems.append(_problem("start_date", "member_not_covered",
                                 "the member has no coverage with the plan on the start date"))
    npi = request.requesting_provider_npi
    if not codes.is_npi_format(npi):
        problems.append(_problem("requesting_provider_npi", "invalid_npi", "an NPI is exactly 10 digits"))
    elif not codes.is_valid_npi(npi):
        problems.append(_problem("requesting_provider_npi", "invalid_npi", "the NPI's check digit is wrong"))
    elif npi not in context.organization_npis:
        problems.append(_problem("requesting_provider_npi", "npi_not_in_organization",
                                 "the NPI is not registered to your organisation"))
    seen: set[str] = set()
    for index, code in enumerate(request.procedure_codes):
        loc = f"procedure_codes[{index}]"
        if not codes.is_procedure_code_format(code):
            problems.append(_problem(loc, "invalid_procedure_code",
                                     f"{code} is not a CPT (5 characters) or HCPCS Level II (letter and 4 digits) code"))
        elif not codes.is_known_procedure_code(code):
            problems.append(_problem(loc, "unknown_procedure_code", f"{code} is not a procedure code this plan recognises"))
        elif code in seen:
            problems.append(_problem(loc, "duplicate_procedure_code", f"{code} is listed twice"))
        seen.add(code)
    dotted: set[str] = set()
    for index, code in enumerate(request.diagnosis_codes):
        loc = f"diagnosis_codes[{index}]"
        status = codes.diagnosis_code_status(code)
        if status == "invalid":
            problems.append(_problem(loc, "invalid_diagnosis_code", f"{code} is not an ICD-10-CM code"))
            continue
        if status == "not_billable":
            problems.append(_problem(loc, "non_billable_diagnosis_code",
                                     f"{code} is an ICD-10-CM category with subdivisions; report its most specific code"))
        normal = codes.normalize_diagnosis_code(code)
        if normal in dotted:
            problems.append(_problem(loc, "duplicate_diagnosis_code", f"{normal} is listed twice"))
        dotted.add(normal)
    if request.date_of_birth > context.today:
        problems.append(_problem("date_of_birth", "future_date_of_birth", "the date of birth is in the future"))
    if request.end_date < request.start_date:
        problems.append(_problem("end_date", "end_before_start", "end_date is before start_date"))
    elif (request.end_date - request.start_date).days >= MAX_WINDOW_DAYS:
        problems.append(_problem("end_date", "window_too_long", f"a request spans at most {MAX_WINDOW_DAYS} days"))
    if request.start_date < context.today - timedelta(days=MAX_RETRO_DAYS):
        problems.append(_problem("start_date", "start_too_early",
                                 f"a request starts at most {MAX_RETRO_DAYS} days before today"))
    elif request.start_date > context.today + timedelta(days=MAX_LEAD_DAYS):
        problems.append(_problem("start_date", "start_too_late",
                                 f"a request starts at most {MAX_LEAD_DAYS} days after today"))
    return problems
