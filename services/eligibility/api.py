"""Eligibility HTTP routes: plans, enrollment (operator), network contracts, checks."""

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from contracts.identifiers import is_member_id, normalize_member_id
from infra.http.auth import CurrentPrincipal, Operator, Principal, require_role
from infra.http.problems import Problem
from infra.idempotency import IdempotencyKey, IdempotentRequest, fingerprint, mark_replayed
from refdata.codes import is_valid_npi
from refdata.plans import Catalogue, Plan
from services.eligibility.api_models import (
    FAMILY_FIELDS,
    ORGANIZATION_ID_PATTERN,
    CheckAnswer,
    CheckIn,
    MemberIn,
    MemberOut,
    NetworkContractIn,
    NetworkContractOut,
    PlanCatalogueOut,
    PlanChangeIn,
    TerminationIn,
    problems,
)
from services.eligibility.checks import Checks, today
from services.eligibility.domain import CheckRequest, Demographics, Member, validate_check_request
from services.eligibility.json_response import JsonBytes
from services.eligibility.members import Members, new_member_id
from services.eligibility.network import NetworkContracts

router = APIRouter()


# Dependencies are async: a plain `def` dependency would run in the thread pool, a
# thread hop per request on the latency budget.
async def get_members(request: Request) -> Members:
    return request.app.state.members


async def get_checks(request: Request) -> Checks:
    return request.app.state.checks


async def get_network(request: Request) -> NetworkContracts:
    return request.app.state.network


async def get_catalogue(request: Request) -> Catalogue:
    return request.app.state.catalogue


MembersDep = Annotated[Members, Depends(get_members)]
ChecksDep = Annotated[Checks, Depends(get_checks)]
NetworkDep = Annotated[NetworkContracts, Depends(get_network)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
Checker = Annotated[Principal, require_role("provider", "operator")]

MemberIdPath = Annotated[str, Path(min_length=1, max_length=32, description="M + 10 digits, as on the ID card")]
OrganizationIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=ORGANIZATION_ID_PATTERN)]
PlanIdPath = Annotated[str, Path(min_length=1, max_length=64)]
CheckIdPath = Annotated[str, Path(min_length=1, max_length=64)]

NOT_FOUND_MEMBER = "No such member."


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
        "coverage_tier": member.coverage_tier,
        "subscriber_member_id": member.subscriber_member_id,
        "family_id": member.family_id,
    }


def _member_id(raw: str) -> str | None:
    """The normalised id, or None when it cannot be one eligibility issued (nothing to look up)."""
    member_id = normalize_member_id(raw)
    return member_id if is_member_id(member_id) else None


# ---------------------------------------------------------------- plans


@router.get("/v1/plans", tags=["enrollment"], response_model=PlanCatalogueOut, responses=problems(401))
async def list_plans(catalogue: CatalogueDep, principal: CurrentPrincipal) -> Response:
    return JsonBytes(_catalogue_json(catalogue))


@router.get("/v1/plans/{plan_id}", tags=["enrollment"], response_model=Plan, responses=problems(401, 404, 422))
async def get_plan(plan_id: PlanIdPath, catalogue: CatalogueDep, principal: CurrentPrincipal) -> Response:
    plan = catalogue.plans.get(plan_id)
    if plan is None:
        raise Problem(404, "No such plan.", code="not_found")
    return JsonBytes(_plan_json(catalogue, plan_id))


_rendered: dict[tuple[int, str | None], bytes] = {}


def _catalogue_json(catalogue: Catalogue) -> bytes:
    # The catalogue is immutable refdata: render it once per process.
    key = (id(catalogue), None)
    if key not in _rendered:
        _rendered[key] = PlanCatalogueOut(plans=list(catalogue.plans.values())).model_dump_json().encode()
    return _rendered[key]


def _plan_json(catalogue: Catalogue, plan_id: str) -> bytes:
    key = (id(catalogue), plan_id)
    if key not in _rendered:
        _rendered[key] = catalogue.plans[plan_id].model_dump_json().encode()
    return _rendered[key]


# ---------------------------------------------------------------- enrollment


@router.post("/v1/admin/members", status_code=status.HTTP_201_CREATED, tags=["enrollment"], response_model=MemberOut,
             responses=problems(401, 403, 409, 422))
async def enroll_member(
    body: MemberIn,
    response: Response,
    members: MembersDep,
    catalogue: CatalogueDep,
    operator: Operator,
    idempotency_key: IdempotencyKey = None,
) -> dict:
    if body.plan_id not in catalogue.plans:
        raise Problem(422, "Unknown plan.", code="validation",
                      errors=[{"loc": "plan_id", "code": "unknown_plan", "message": "no plan with this id; see GET /v1/plans"}])
    # Member ids keep the shape printed on ID cards (M + 10 digits), derived from the key;
    # the fingerprint, the replay and the conflict are the platform's (infra/idempotency.py).
    unset = {name for name in FAMILY_FIELDS if getattr(body, name) is None}
    request = IdempotentRequest(idempotency_key, new_member_id(operator.client_id, idempotency_key),
                                fingerprint(body.model_dump(mode="json", exclude=unset)))
    demographics = Demographics(
        first_name=body.first_name, last_name=body.last_name, date_of_birth=body.date_of_birth, gender=body.gender
    )
    member, created = await members.enroll(
        request.resource_id, demographics, body.plan_id, body.coverage_start, body.coverage_end, meta=request.meta,
        coverage_tier=body.coverage_tier,
        subscriber_member_id=normalize_member_id(body.subscriber_member_id) if body.subscriber_member_id else None,
    )
    if not created:
        if idempotency_key is None:
            raise Problem(409, "Member id collision; retry.", code="conflict")
        request.check(await members.stored_fingerprint(request.resource_id))
        mark_replayed(response)
    await members.audit(operator, "member.enroll", member.member_id, "replayed" if not created else "enrolled")
    return member_view(member)


@router.get("/v1/admin/members/{member_id}", tags=["enrollment"], response_model=MemberOut,
            responses=problems(401, 403, 404, 422))
async def get_member(member_id: MemberIdPath, members: MembersDep, principal: CurrentPrincipal) -> dict:
    # Role checked here rather than by a dependency, so that a refused read is audited too.
    wanted = _member_id(member_id)
    if not principal.is_operator:
        await members.audit(principal, "member.read", wanted or normalize_member_id(member_id), "denied")
        raise Problem(403, "Your role may not use this endpoint.", code="forbidden")
    member = await members.load(wanted) if wanted else None
    await members.audit(principal, "member.read", wanted or normalize_member_id(member_id),
                        "found" if member else "not_found")
    if member is None:
        raise Problem(404, NOT_FOUND_MEMBER, code="not_found")
    return member_view(member)


@router.post("/v1/admin/members/{member_id}/termination", tags=["enrollment"], response_model=MemberOut,
             responses=problems(401, 403, 404, 409, 422))
async def terminate_member(member_id: MemberIdPath, body: TerminationIn, members: MembersDep, operator: Operator) -> dict:
    wanted = _member_id(member_id)
    member = await members.terminate(wanted, body.coverage_end) if wanted else None
    if member is None:
        raise Problem(404, NOT_FOUND_MEMBER, code="not_found")
    await members.audit(operator, "member.terminate", member.member_id, "terminated")
    return member_view(member)


@router.post("/v1/admin/members/{member_id}/plan-changes", tags=["enrollment"], response_model=MemberOut,
             responses=problems(401, 403, 404, 409, 422))
async def change_member_plan(
    member_id: MemberIdPath, body: PlanChangeIn, members: MembersDep, catalogue: CatalogueDep, operator: Operator
) -> dict:
    if body.plan_id not in catalogue.plans:
        raise Problem(422, "Unknown plan.", code="validation",
                      errors=[{"loc": "plan_id", "code": "unknown_plan", "message": "no plan with this id"}])
    wanted = _member_id(member_id)
    member = await members.change_plan(wanted, body.plan_id, body.effective_date) if wanted else None
    if member is None:
        raise Problem(404, NOT_FOUND_MEMBER, code="not_found")
    await members.audit(operator, "member.plan_change", member.member_id, "plan_changed")
    return member_view(member)


# ---------------------------------------------------------------- network


@router.put("/v1/admin/network-contracts/{organization_id}", tags=["network"], response_model=NetworkContractOut,
            responses=problems(401, 403, 422))
async def put_network_contract(
    organization_id: OrganizationIdPath, body: NetworkContractIn, network: NetworkDep, catalogue: CatalogueDep,
    operator: Operator,
) -> dict:
    return await _set_contract(network, catalogue, organization_id, body.plan_ids)


@router.post("/v1/admin/network-contracts", tags=["network"], response_model=NetworkContractOut,
             responses=problems(401, 403, 422))
async def post_network_contract(
    body: NetworkContractIn, network: NetworkDep, catalogue: CatalogueDep, operator: Operator
) -> dict:
    return await _set_contract(network, catalogue, body.organization_id, body.plan_ids)


async def _set_contract(network: NetworkContracts, catalogue: Catalogue, organization_id: str, plan_ids: list[str]) -> dict:
    unknown = [i for i, p in enumerate(plan_ids) if p not in catalogue.plans]
    if unknown:
        raise Problem(422, "Unknown plans.", code="validation",
                      errors=[{"loc": f"plan_ids[{i}]", "code": "unknown_plan", "message": "no plan with this id"} for i in unknown])
    contract = await network.set_plans(organization_id, plan_ids)
    return {"organization_id": contract.organization_id, "plan_ids": list(contract.plan_ids)}


@router.get("/v1/admin/network-contracts/{organization_id}", tags=["network"], response_model=NetworkContractOut,
            responses=problems(401, 403, 422))
async def get_network_contract(organization_id: OrganizationIdPath, network: NetworkDep, operator: Operator) -> dict:
    contract = await network.get(organization_id)
    return {"organization_id": organization_id, "plan_ids": list(contract.plan_ids) if contract else []}


# ---------------------------------------------------------------- checks


@router.post("/v1/eligibility/checks", tags=["eligibility"], response_model=CheckAnswer,
             responses=problems(401, 403, 422))
async def check_eligibility(body: CheckIn, checks: ChecksDep, principal: Checker) -> Response:
    member_id = normalize_member_id(body.member_id)
    check = CheckRequest(
        member_id=member_id, date_of_birth=body.date_of_birth,
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
    # An id of another shape was never issued: answered not_found without a lookup (and audited).
    return JsonBytes(await checks.run(check, principal, lookup=is_member_id(member_id)))


@router.get("/v1/eligibility/checks/{check_id}", tags=["eligibility"], response_model=CheckAnswer,
            responses=problems(401, 403, 404, 422))
async def get_check(check_id: CheckIdPath, checks: ChecksDep, principal: Checker) -> Response:
    answer = await checks.get(check_id, principal)
    if answer is None:
        raise Problem(404, "No such eligibility check (or it has expired).", code="not_found")
    return JsonBytes(answer)


def _loc(loc: str) -> str:
    return re.sub(r"\.(\d+)", r"[\1]", loc)
