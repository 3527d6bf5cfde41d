"""Eligibility HTTP routes: plans, enrollment (operator), network contracts, checks."""

import re
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from contracts.identifiers import normalize_member_id
from infra.http.auth import CurrentPrincipal, Operator, Principal, require_role
from infra.http.problems import Problem
from refdata.codes import is_valid_npi
from services.eligibility.checks import Checks, today
from services.eligibility.domain import CheckRequest, Demographics, Member, validate_check_request
from services.eligibility.members import Members, new_member_id

router = APIRouter()

Name = Annotated[str, Field(min_length=1, max_length=100)]


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: Name
    last_name: Name
    date_of_birth: date
    gender: Literal["female", "male", "other", "unknown", "F", "M", "U", "X"]
    plan_id: str = Field(min_length=1, max_length=64)
    coverage_start: date
    coverage_end: date | None = None


class TerminationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    coverage_end: date


class PlanChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: str = Field(min_length=1, max_length=64)
    effective_date: date


class NetworkContractIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: str = Field(min_length=1, max_length=64)
    plan_ids: list[str] = Field(max_length=100)


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: str = Field(min_length=1, max_length=32)
    date_of_birth: date
    date_of_service: date
    procedure_codes: list[Annotated[str, Field(max_length=10)]] = Field(default_factory=list, max_length=99)
    provider_npi: str | None = Field(default=None, max_length=10)


def _members(request: Request) -> Members:
    return request.app.state.members


def _checks(request: Request) -> Checks:
    return request.app.state.checks


def member_view(member: Member) -> dict:
    current = member.current_segment
    return {
        "member_id": member.member_id,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "date_of_birth": member.date_of_birth.isoformat(),
        "gender": member.gender,
        "plan_id": current.plan_id,
        "coverage_start": current.start.isoformat(),
        "coverage_end": current.end.isoformat() if current.end else None,
        "coverage": [
            {"plan_id": s.plan_id, "start": s.start.isoformat(), "end": s.end.isoformat() if s.end else None}
            for s in member.segments
        ],
        "version": member.version,
    }


@router.get("/v1/plans", tags=["enrollment"])
async def list_plans(request: Request, principal: CurrentPrincipal) -> dict:
    catalogue = request.app.state.catalogue
    return {"plans": [plan.model_dump(mode="json") for plan in catalogue.plans.values()]}


@router.get("/v1/plans/{plan_id}", tags=["enrollment"])
async def get_plan(plan_id: str, request: Request, principal: CurrentPrincipal) -> dict:
    plan = request.app.state.catalogue.plans.get(plan_id)
    if plan is None:
        raise Problem(404, "No such plan.", code="not_found")
    return plan.model_dump(mode="json")


@router.post("/v1/admin/members", status_code=status.HTTP_201_CREATED, tags=["enrollment"])
async def enroll_member(
    body: MemberIn,
    request: Request,
    response: Response,
    operator: Operator,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict:
    if body.plan_id not in request.app.state.catalogue.plans:
        raise Problem(422, "Unknown plan.", code="validation",
                      errors=[{"loc": "plan_id", "code": "unknown_plan", "message": "no plan with this id; see GET /v1/plans"}])
    member_id = new_member_id(operator.client_id, idempotency_key)
    demographics = Demographics(
        first_name=body.first_name, last_name=body.last_name, date_of_birth=body.date_of_birth, gender=body.gender
    )
    member, created = await _members(request).enroll(
        member_id, demographics, body.plan_id, body.coverage_start, body.coverage_end
    )
    if not created:
        if idempotency_key is None:
            raise Problem(409, "Member id collision; retry.", code="conflict")
        same = (member.first_name, member.last_name, member.date_of_birth, member.gender) == (
            body.first_name, body.last_name, body.date_of_birth, body.gender
        ) and member.segments[0].plan_id == body.plan_id and member.segments[0].start == body.coverage_start
        if not same:
            raise Problem(409, "This Idempotency-Key was used with a different body.", code="idempotency_conflict")
        response.headers["Idempotent-Replayed"] = "true"
    return member_view(member)


@router.get("/v1/admin/members/{member_id}", tags=["enrollment"])
async def get_member(member_id: str, request: Request, operator: Operator) -> dict:
    member = await _members(request).load(member_id)
    if member is None:
        raise Problem(404, "No such member.", code="not_found")
    return member_view(member)


@router.post("/v1/admin/members/{member_id}/termination", tags=["enrollment"])
async def terminate_member(member_id: str, body: TerminationIn, request: Request, operator: Operator) -> dict:
    member = await _members(request).terminate(member_id, body.coverage_end)
    if member is None:
        raise Problem(404, "No such member.", code="not_found")
    return member_view(member)


@router.post("/v1/admin/members/{member_id}/plan-changes", tags=["enrollment"])
async def change_member_plan(member_id: str, body: PlanChangeIn, request: Request, operator: Operator) -> dict:
    if body.plan_id not in request.app.state.catalogue.plans:
        raise Problem(422, "Unknown plan.", code="validation",
                      errors=[{"loc": "plan_id", "code": "unknown_plan", "message": "no plan with this id"}])
    member = await _members(request).change_plan(member_id, body.plan_id, body.effective_date)
    if member is None:
        raise Problem(404, "No such member.", code="not_found")
    return member_view(member)


@router.put("/v1/admin/network-contracts/{organization_id}", tags=["network"])
async def put_network_contract(organization_id: str, body: NetworkContractIn, request: Request, operator: Operator) -> dict:
    return await _set_contract(request, organization_id, body.plan_ids)


@router.post("/v1/admin/network-contracts", tags=["network"])
async def post_network_contract(body: NetworkContractIn, request: Request, operator: Operator) -> dict:
    return await _set_contract(request, body.organization_id, body.plan_ids)


async def _set_contract(request: Request, organization_id: str, plan_ids: list[str]) -> dict:
    unknown = [i for i, p in enumerate(plan_ids) if p not in request.app.state.catalogue.plans]
    if unknown:
        raise Problem(422, "Unknown plans.", code="validation",
                      errors=[{"loc": f"plan_ids[{i}]", "code": "unknown_plan", "message": "no plan with this id"} for i in unknown])
    doc = await request.app.state.network.set_plans(organization_id, plan_ids)
    return {"organization_id": doc["_id"], "plan_ids": doc["plan_ids"]}


@router.get("/v1/admin/network-contracts/{organization_id}", tags=["network"])
async def get_network_contract(organization_id: str, request: Request, operator: Operator) -> dict:
    doc = await request.app.state.network.get(organization_id)
    return {"organization_id": organization_id, "plan_ids": doc["plan_ids"] if doc else []}


Checker = Annotated[Principal, require_role("provider", "operator")]


@router.post("/v1/eligibility/checks", tags=["eligibility"])
async def check_eligibility(body: CheckIn, request: Request, principal: Checker) -> dict:
    check = CheckRequest(
        member_id=normalize_member_id(body.member_id), date_of_birth=body.date_of_birth,
        date_of_service=body.date_of_service, procedure_codes=tuple(body.procedure_codes),
        provider_npi=body.provider_npi,
    )
    errors = [
        {"loc": _loc(p.loc), "code": p.code, "message": p.message} for p in validate_check_request(check, today())
    ]
    if body.provider_npi is not None:
        if not is_valid_npi(body.provider_npi):
            errors.append({"loc": "provider_npi", "code": "invalid_npi", "message": "not a valid NPI"})
        elif principal.role == "provider" and body.provider_npi not in principal.npis:
            errors.append({"loc": "provider_npi", "code": "npi_not_in_organization",
                           "message": "this NPI is not registered to your organisation"})
    if errors:
        raise Problem(422, f"The request has {len(errors)} problem(s).", code="validation", errors=errors)
    return await _checks(request).run(check, principal)


@router.get("/v1/eligibility/checks/{check_id}", tags=["eligibility"])
async def get_check(check_id: str, request: Request, principal: Checker) -> dict:
    answer = await _checks(request).get(check_id, principal)
    if answer is None:
        raise Problem(404, "No such eligibility check (or it has expired).", code="not_found")
    return answer


def _loc(loc: str) -> str:
    return re.sub(r"\.(\d+)", r"[\1]", loc)
