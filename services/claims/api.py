"""Claims HTTP routes: submit, validate, status, search, info requests and their answers.

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
from infra.http.auth import Operator, Principal, Provider, require_role
from infra.http.problems import Problem, problem_responses
from infra.idempotency import IdempotencyKey, mark_replayed
from services.claims.domain import ClaimSubmission
from services.claims.info_requests import InfoRequestBody, InfoRequests, InfoResponseBody
from services.claims.intake import Intake, edits_failed
from services.claims.queries import ClaimQueries, SearchFilters
from services.claims.responses import ClaimReceipt, ClaimSearchPage, ClaimView, InfoRequestReceipt, ValidationResult
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


async def get_info_requests(request: Request) -> InfoRequests:
    return request.app.state.info_requests


IntakeDep = Annotated[Intake, Depends(get_intake)]
InfoRequestsDep = Annotated[InfoRequests, Depends(get_info_requests)]
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


_INFO_404 = "No such claim or info request (or not your organisation's: the same answer)."


@router.post(
    "/v1/claims/{claim_id}/info-requests", status_code=status.HTTP_201_CREATED, response_model=InfoRequestReceipt,
    responses=problem_responses({
        **_AUTH, 404: "No such claim.",
        409: "The claim is paid, denied, closed or already waiting on a request (invalid_claim_status); the "
        "Idempotency-Key was used with another body (idempotency_conflict); or the claim changed concurrently "
        "too often (concurrent_update).",
        422: "The body is malformed, or names lines the claim does not have (unknown_line).",
    }),
)
async def request_info(
    claim_id: str, body: InfoRequestBody, response: Response, principal: Operator,
    info_requests: InfoRequestsDep, audit: AuditDep, idempotency_key: IdempotencyKey = None,
) -> dict:
    """An operator asks the provider for documentation (CARC 16 with the RARC): the claim
    moves to info_requested until the provider answers."""
    claim = await info_requests.load(claim_id)
    assert claim.received is not None
    result = await info_requests.request(claim, body, principal, idempotency_key)
    await record_access(
        audit, principal, source=SOURCE, action="claim.info_request",
        resource=f"claims/{claim_id}/info-requests/{result.body['info_request_id']}",
        member_id=claim.received.member_id, outcome="replayed" if result.replayed else "requested",
        organization_id=claim.received.organization_id,
    )
    if result.replayed:
        mark_replayed(response)
    return result.body


@router.post(
    "/v1/claims/{claim_id}/info-requests/{info_request_id}/responses", status_code=status.HTTP_201_CREATED,
    response_model=InfoRequestReceipt,
    responses=problem_responses({
        **_AUTH, 404: _INFO_404,
        409: "The request is expired or the claim no longer waits on it (info_request_closed); it was already "
        "answered otherwise (info_request_answered, or idempotency_conflict with an Idempotency-Key); or the "
        "claim changed concurrently too often (concurrent_update).",
    }),
)
async def answer_info_request(
    claim_id: str, info_request_id: str, body: InfoResponseBody, response: Response, principal: Provider,
    info_requests: InfoRequestsDep, audit: AuditDep, idempotency_key: IdempotencyKey = None,
) -> dict:
    """The provider answers an info request (a message and/or attachment ids, which are not
    yet checked to exist): the claim goes back to adjudication. The same answer again
    returns the first one (Idempotent-Replayed: true)."""
    claim = await info_requests.load(claim_id)
    assert claim.received is not None
    allowed = principal.can_see(claim.received.organization_id)
    await record_access(
        audit, principal, source=SOURCE, action="claim.info_request.answer",
        resource=f"claims/{claim_id}/info-requests/{info_request_id[:64]}", member_id=claim.received.member_id,
        outcome="answering" if allowed else "denied", organization_id=claim.received.organization_id,
    )
    if not allowed:
        raise Problem(404, "No such claim.", code="not_found")  # as for a missing id
    result = await info_requests.answer(claim, info_request_id, body, principal, idempotency_key)
    if result.replayed:
        mark_replayed(response)
    return result.body
