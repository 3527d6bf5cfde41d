"""Claims HTTP routes: submit, validate, status, search.

Dependencies are typed aliases (IntakeDep, QueriesDep, AuditDep) resolved from the
app's state by the get_* functions, so tests can swap them with
app.dependency_overrides[get_intake] = ...
"""

from collections import defaultdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from contracts.events.claims import ClaimStatus
from contracts.identifiers import normalize_member_id
from infra.audit import record_access, record_accesses
from infra.eventstore import EventStore
from infra.http.auth import Principal, Provider, require_role
from infra.http.problems import Problem, problem_responses
from infra.idempotency import IdempotencyKey, mark_replayed
from services.claims.domain import ClaimSubmission
from services.claims.intake import Intake, edits_failed
from services.claims.queries import ClaimQueries, SearchFilters
from services.claims.responses import ClaimReceipt, ClaimSearchPage, ClaimView, ValidationResult
from services.claims.status_view import public

router = APIRouter(tags=["claims"])
SOURCE = "/services/claims"


# Dependencies are coroutines: FastAPI runs a plain def in its thread pool (a thread
# hop per request; tests/unit/test_async_dependencies.py).
async def get_intake(request: Request) -> Intake:
    return request.app.state.intake


async def get_queries(request: Request) -> ClaimQueries:
    return request.app.state.queries


async def get_audit_store(request: Request) -> EventStore:
    return request.app.state.runtime.store


IntakeDep = Annotated[Intake, Depends(get_intake)]
QueriesDep = Annotated[ClaimQueries, Depends(get_queries)]
AuditDep = Annotated[EventStore, Depends(get_audit_store)]
Reader = Annotated[Principal, require_role("provider", "operator", "reviewer")]

_EDITS = "The claim failed edits; `errors` lists every one (e.g. member_not_found, original_claim_closed)."
_AUTH = {401: "No valid bearer token.", 403: "The caller's role may not use this endpoint."}


@router.post(
    "/v1/claims", status_code=status.HTTP_201_CREATED, response_model=ClaimReceipt,
    responses=problem_responses({
        **_AUTH, 409: "The Idempotency-Key was used with another body (idempotency_conflict), or the "
        "original claim changed concurrently too often (concurrent_update).", 422: _EDITS,
    }),
)
async def submit_claim(
    submission: ClaimSubmission, response: Response, principal: Provider, intake: IntakeDep,
    idempotency_key: IdempotencyKey = None,
) -> dict:
    receipt = await intake.submit(submission, submission.model_dump(mode="json"), principal, idempotency_key)
    if receipt.replayed:
        mark_replayed(response)
    response.headers["Location"] = f"/v1/claims/{receipt.claim_id}"
    return receipt.body()


@router.post(
    "/v1/claims/validate", response_model=ValidationResult,
    responses=problem_responses({**_AUTH, 422: _EDITS}),
)
async def validate_claim(
    submission: ClaimSubmission, principal: Provider, intake: IntakeDep, audit: AuditDep
) -> dict:
    problems = await intake.validate(submission, principal)
    # The answer says whether the member exists and is covered: an access to their data.
    await record_access(
        audit, principal, source=SOURCE, action="claim.validate", resource="claims/validate",
        member_id=submission.member_id, outcome="invalid" if problems else "valid",
    )
    if problems:
        raise edits_failed(problems)
    return {"valid": True, "errors": []}


@router.get(
    "/v1/claims/{claim_id}", response_model=ClaimView,
    responses=problem_responses({**_AUTH, 404: "No such claim (or not your organisation's: the same answer)."}),
)
async def get_claim(claim_id: str, principal: Reader, queries: QueriesDep, audit: AuditDep) -> dict:
    if len(claim_id) > 64:
        raise Problem(404, "No such claim.", code="not_found")
    view = await queries.get(claim_id)
    if view is None:
        raise Problem(404, "No such claim.", code="not_found")
    allowed = principal.can_see(view["organization_id"])
    await record_access(
        audit, principal, source=SOURCE, action="claim.read",
        resource=f"claims/{claim_id}", member_id=view["member_id"],
        outcome=view["status"] if allowed else "denied", organization_id=view["organization_id"],
    )
    if not allowed:
        raise Problem(404, "No such claim.", code="not_found")  # as for a missing id
    return public(view)


@router.get(
    "/v1/claims", response_model=ClaimSearchPage,
    responses=problem_responses({**_AUTH, 422: "A query parameter is malformed (e.g. invalid_cursor)."}),
)
async def search_claims(
    principal: Reader,
    queries: QueriesDep,
    audit: AuditDep,
    status_: Annotated[ClaimStatus | None, Query(alias="status")] = None,
    member_id: Annotated[str | None, Query(max_length=32)] = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: Annotated[date | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> dict:
    member_id = normalize_member_id(member_id) if member_id else None
    page = await queries.search(principal, SearchFilters(
        status=status_.value if status_ else None, member_id=member_id, received_from=from_, received_to=to,
        cursor=cursor, limit=limit,
    ))
    # Who saw which member's data: one record per member in the results, naming the
    # claims shown; plus the search itself (its member filter and result count).
    shown: dict[str, list[str]] = defaultdict(list)
    organizations: dict[str, str] = {}
    for view in page.views:
        shown[view["member_id"]].append(view["claim_id"])
        organizations[view["member_id"]] = view["organization_id"]
    await record_accesses(audit, principal, source=SOURCE, accesses=[
        dict(action="claim.search", resource="claims", member_id=member_id, outcome=f"{len(page.views)} results"),
        *(dict(action="claim.search.result", resource="claims/" + ",".join(ids), member_id=member,
               outcome=f"{len(ids)} claims shown", organization_id=organizations[member])
          for member, ids in shown.items()),
    ])
    return {"items": [public(view) for view in page.views], "next_cursor": page.next_cursor}
