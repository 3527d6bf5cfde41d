"""Claims HTTP routes: submit, validate, status, search."""

import base64
from datetime import date
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request, Response, status

from contracts.events.claims import ClaimStatus
from infra.audit import record_access
from infra.http.auth import Principal, Provider, require_role
from infra.http.problems import Problem
from services.claims.domain import ClaimSubmission
from services.claims.intake import Intake
from services.claims.repository import ClaimRepository
from services.claims.status_projection import ClaimStatusProjection
from services.claims.status_view import project, public

router = APIRouter(tags=["claims"])
SOURCE = "/services/claims"

Reader = Annotated[Principal, require_role("provider", "operator", "reviewer")]


def _intake(request: Request) -> Intake:
    return request.app.state.intake


@router.post("/v1/claims", status_code=status.HTTP_201_CREATED)
async def submit_claim(
    submission: ClaimSubmission,
    request: Request,
    response: Response,
    principal: Provider,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> dict:
    receipt = await _intake(request).submit(
        submission, submission.model_dump(mode="json"), principal, idempotency_key
    )
    if receipt.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/v1/claims/{receipt.claim_id}"
    return receipt.body()


@router.post("/v1/claims/validate")
async def validate_claim(submission: ClaimSubmission, request: Request, principal: Provider) -> dict:
    problems = await _intake(request).validate(submission, principal)
    if problems:
        raise Problem(422, f"The claim failed {len(problems)} edit(s).", code="claim_edits", errors=problems)
    return {"valid": True, "errors": []}


@router.get("/v1/claims/{claim_id}")
async def get_claim(claim_id: str, request: Request, principal: Reader) -> dict:
    view = await _find(request, claim_id)
    if view is None:
        raise Problem(404, "No such claim.", code="not_found")
    allowed = principal.can_see(view["organization_id"])
    await record_access(
        request.app.state.runtime.store, principal, source=SOURCE, action="claim.read",
        resource=f"claims/{claim_id}", member_id=view["member_id"],
        outcome=view["status"] if allowed else "denied", organization_id=view["organization_id"],
    )
    if not allowed:
        raise Problem(404, "No such claim.", code="not_found")  # as for a missing id
    return public(view)


async def _find(request: Request, claim_id: str) -> dict | None:
    projection: ClaimStatusProjection = request.app.state.status
    repository: ClaimRepository = request.app.state.repository
    view = await projection.get(claim_id)
    # Read-your-writes: the projection may not have caught up with the event store
    # (a GET right after the POST); fold the stream with the same function instead.
    events = await repository.load_events(claim_id)
    if events and (view is None or view["version"] < events[-1]["aggregateversion"]):
        view = None
        for event in events:
            view = project(view, event["type"], event["data"], event["aggregateversion"]) or view
    return view


@router.get("/v1/claims")
async def search_claims(
    request: Request,
    principal: Reader,
    status_: Annotated[ClaimStatus | None, Query(alias="status")] = None,
    member_id: Annotated[str | None, Query(max_length=32)] = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: Annotated[date | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> dict:
    query: dict = {}
    if principal.role == "provider":
        query["organization_id"] = principal.organization_id
    if status_:
        query["status"] = status_.value
    if member_id:
        query["member_id"] = member_id
    received: dict = {}
    if from_:
        received["$gte"] = from_.isoformat()
    if to:
        received["$lt"] = (date.fromordinal(to.toordinal() + 1)).isoformat()
    if received:
        query["received_at"] = received
    if cursor:
        try:
            last_at, last_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        except (ValueError, TypeError):
            raise Problem(422, "The cursor is not one this API issued.", code="validation",
                          errors=[{"loc": "query.cursor", "code": "invalid_cursor", "message": "unknown cursor"}]) from None
        query["$or"] = [{"received_at": {"$lt": last_at}}, {"received_at": last_at, "_id": {"$lt": last_id}}]
    projection: ClaimStatusProjection = request.app.state.status
    docs = [
        d async for d in projection.views.find(query).sort([("received_at", -1), ("_id", -1)]).limit(limit + 1)
    ]
    page, more = docs[:limit], len(docs) > limit
    next_cursor = (
        base64.urlsafe_b64encode(orjson.dumps([page[-1]["received_at"], page[-1]["_id"]])).decode() if more else None
    )
    await record_access(
        request.app.state.runtime.store, principal, source=SOURCE, action="claim.search",
        resource="claims", member_id=member_id, outcome=f"{len(page)} results",
    )
    return {"items": [public(d) for d in page], "next_cursor": next_cursor}
