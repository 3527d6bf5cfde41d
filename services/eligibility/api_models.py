"""The eligibility API's request and response bodies, named as docs API.md names them.

Requests are bounded everywhere (lengths, list sizes, date ranges): JSON allows
23-digit numbers and megabyte strings, and any of them reaching the domain unbounded
could end in a 500 (a date at the end of the calendar overflows `+ 1 day`).

Responses are declared for the OpenAPI document. The check answer is built as plain
data on the hot path and is not validated against these models per request; a unit
test keeps the two in step.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from infra.http.problems import problem_responses
from refdata.plans import Plan

# Nobody alive was born before 1900, and no coverage is decided beyond 2199: far inside
# what date arithmetic can represent, so `day + 1` never overflows.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)



def _text_only(value: Any) -> Any:
    # Lax mode would read a number (20260101, 1e308) as a unix timestamp.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise PydanticCustomError("date_type", "Input should be a date as YYYY-MM-DD")
    return value


ApiDate = Annotated[date, BeforeValidator(_text_only), Field(ge=EARLIEST_DATE, le=LATEST_DATE)]
# Printed on ID cards as M + 10 digits; a little slack for spaces typed around it.
MemberIdText = Annotated[str, Field(min_length=1, max_length=32)]
PlanId = Annotated[str, Field(min_length=1, max_length=64)]
# Identity issues UUIDs; anything printable without spaces is accepted, never control characters.
ORGANIZATION_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
OrganizationId = Annotated[str, Field(min_length=1, max_length=64, pattern=ORGANIZATION_ID_PATTERN)]
# Names are free text, but never control characters (they end up in events and logs of
# other systems).
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
ProcedureCode = Annotated[str, Field(max_length=10)]

MAX_PLANS_PER_CONTRACT = 100
MAX_PROCEDURE_CODES = 99  # the 270's EQ loop repeats at most 99 times


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemberIn(_Request):
    first_name: Name
    last_name: Name
    date_of_birth: ApiDate
    gender: Literal["female", "male", "other", "unknown", "F", "M", "U", "X"]
    plan_id: PlanId
    coverage_start: ApiDate
    coverage_end: ApiDate | None = None
    coverage_tier: Literal["individual", "family"] | None = Field(
        default=None, description="individual unless given; a dependent (with subscriber_member_id) is always family")
    subscriber_member_id: MemberIdText | None = Field(
        default=None, description="a dependent's policy holder: an enrolled member on a family policy")


FAMILY_FIELDS = ("coverage_tier", "subscriber_member_id")
"""Added after the first release: left out of the idempotency fingerprint while unset,
so a request retried across the upgrade still matches its first attempt."""


class TerminationIn(_Request):
    coverage_end: ApiDate


class PlanChangeIn(_Request):
    plan_id: PlanId
    effective_date: ApiDate


class NetworkContractIn(_Request):
    organization_id: OrganizationId
    plan_ids: list[PlanId] = Field(max_length=MAX_PLANS_PER_CONTRACT)


class CheckIn(_Request):
    member_id: MemberIdText
    date_of_birth: ApiDate
    date_of_service: ApiDate
    # One more than the 270 allows, so that the domain's own limit names the problem.
    procedure_codes: list[ProcedureCode] = Field(default_factory=list, max_length=MAX_PROCEDURE_CODES + 1)
    provider_npi: str | None = Field(default=None, max_length=10)


# ---------------------------------------------------------------- responses

Money = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", examples=["125.00"])]


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanSummaryOut(_Response):
    id: str
    name: str
    metal_level: str
    network_type: str


class CoverageOut(_Response):
    start: date
    end: date | None


class FamilyAccumulationOut(_Response):
    amount: Money
    met: Money
    remaining: Money


class AccumulationOut(_Response):
    amount: Money
    met: Money
    remaining: Money = Field(description="on a family policy the lesser of the member's and the family's remaining")
    family: FamilyAccumulationOut | None = Field(
        default=None, exclude_if=lambda value: value is None,
        description="only for a member on a family policy: the family's figures")


class BenefitsOut(_Response):
    deductible: AccumulationOut
    out_of_pocket_max: AccumulationOut
    coinsurance_percent: int
    copays: dict[str, Money | None]


class ServiceNoteOut(_Response):
    code: str
    message: str


class ServiceOut(_Response):
    procedure_code: str
    known: bool
    category: str | None
    covered: bool
    in_network: bool | None
    prior_authorization_required: bool
    copay: Money | None
    coinsurance_percent: int | None
    deductible_applies: bool | None
    reason: ServiceNoteOut | None = None


class CheckAnswer(_Response):
    check_id: str
    status: Literal["active", "inactive", "not_found"]
    plan: PlanSummaryOut | None
    coverage: CoverageOut | None
    benefits: BenefitsOut | None
    services: list[ServiceOut]
    checked_at: str = Field(description="RFC 3339 UTC instant")
    expires_at: str = Field(description="RFC 3339 UTC instant; GET answers until then")


class PlanCatalogueOut(_Response):
    plans: list[Plan]


class CoverageSegmentOut(_Response):
    plan_id: str
    start: date
    end: date | None


class MemberOut(_Response):
    member_id: str
    first_name: str
    last_name: str
    date_of_birth: date
    gender: str
    plan_id: str
    coverage_start: date
    coverage_end: date | None
    coverage: list[CoverageSegmentOut]
    version: int
    coverage_tier: Literal["individual", "family"]
    subscriber_member_id: str | None
    family_id: str | None = Field(description="the family policy's id (its subscriber's member id); null: individual")


class NetworkContractOut(_Response):
    organization_id: str
    plan_ids: list[str]


# ---------------------------------------------------------------- problems


_DESCRIPTIONS = {
    401: "No valid bearer token.",
    403: "The caller's role may not use this endpoint.",
    404: "No such resource (or not the caller's to see).",
    409: "Conflict with the current state or an earlier request.",
    422: "Validation failed; `errors` lists every problem.",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: what each error status means here (the platform's one
    Problem schema is attached to every error by infra/http/app.py)."""
    return problem_responses({status: _DESCRIPTIONS[status] for status in statuses})
