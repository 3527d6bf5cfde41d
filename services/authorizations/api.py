"""Prior-authorization HTTP routes: submit, read, list (the reviewers' queue), review, decide,
answer an info request, cancel. Every read of an authorization is an audited access."""

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from infra.audit import record_access, record_accesses
from infra.eventstore import EventStore
from infra.http.auth import Principal, Provider, require_role
from infra.http.problems import problem_responses
from infra.idempotency import IdempotencyKey, mark_replayed
from services.authorizations.access import SOURCE, not_found, visible
from services.authorizations.domain import Authorization
from services.authorizations.domain.request import AuthorizationRequest
from services.authorizations.intake import Intake
from services.authorizations.queue import AuthorizationQueue, public_summary
from services.authorizations.repository import AuthorizationRepository
from services.authorizations.responses import AuthorizationPage, AuthorizationReceipt, AuthorizationView, Status
from services.authorizations.view import message_ids_to_join, public
from services.authorizations.workflow import AnswerBody, DecisionBody, Workflow

router = APIRouter(tags=["prior authorization"])


class Services:
    def __init__(self, repository: AuthorizationRepository, intake: Intake, workflow: Workflow,
                 queue: AuthorizationQueue, audit: EventStore) -> None:
        self.repository = repository
        self.intake = intake
        self.workflow = workflow
        self.queue = queue
        self.audit = audit

    async def shown(self, authorization: Authorization) -> dict:
        docs = await self.workflow.messages.get_many(message_ids_to_join(authorization))
        texts = {doc["_id"]: doc["body"] for doc in docs}
        first = await self.repository.first(authorization.authorization_id)
        notes = ((first or {}).get("meta") or {}).get("clinical_notes")
        return public(authorization, texts, notes)


async def get_services(request: Request) -> Services:
    return request.app.state.authorizations


ServicesDep = Annotated[Services, Depends(get_services)]
Reader = Annotated[Principal, require_role("provider", "operator", "reviewer")]
Decider = Annotated[Principal, require_role("reviewer", "operator")]

_AUTH = {401: "No valid bearer token.", 403: "The caller's role may not use this endpoint."}
_404 = "No such authorization (or not your organisation's: the same answer)."
_409 = "The status does not allow it (invalid_authorization_status), or it changed concurrently (concurrent_update)."


async def _audited(services: Services, principal: Principal, authorization: Authorization, action: str,
                   outcome: str) -> None:
    await record_access(services.audit, principal, source=SOURCE, action=action,
                        resource=f"authorizations/{authorization.authorization_id}",
                        member_id=authorization.member_id, outcome=outcome,
                        organization_id=authorization.organization_id)


@router.post(
    "/v1/authorizations", status_code=status.HTTP_201_CREATED, response_model=AuthorizationReceipt,
    responses=problem_responses({**_AUTH, 409: "The Idempotency-Key was used with another body "
                                 "(idempotency_conflict).", 422: "Every failed check (member_not_found for an "
                                 "unknown member and a birth-date mismatch alike, codes, dates, units)."}),
)
async def submit_authorization(body: AuthorizationRequest, response: Response, principal: Provider,
                               services: ServicesDep, idempotency_key: IdempotencyKey = None) -> dict:
    """A provider requests prior authorization; the answer says per code whether the plan requires it."""
    receipt = await services.intake.submit(body, principal, idempotency_key)
    await _audited(services, principal, receipt.state, "authorization.submit",
                   "replayed" if receipt.replayed else receipt.state.status or "submitted")
    if receipt.replayed:
        mark_replayed(response)
    response.headers["Location"] = f"/v1/authorizations/{receipt.state.authorization_id}"
    return receipt.body()


@router.get(
    "/v1/authorizations/{authorization_id}", response_model=AuthorizationView,
    responses=problem_responses({**_AUTH, 404: _404}),
)
async def get_authorization(authorization_id: str, principal: Reader, services: ServicesDep) -> dict:
    authorization = await visible(services.repository, services.audit, authorization_id, principal,
                                  "authorization.read")
    await _audited(services, principal, authorization, "authorization.read", authorization.status or "")
    return await services.shown(authorization)


@router.get(
    "/v1/authorizations", response_model=AuthorizationPage,
    responses=problem_responses({**_AUTH, 422: "A query parameter is malformed (e.g. invalid_cursor)."}),
)
async def list_authorizations(
    principal: Reader, services: ServicesDep,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    overdue: Annotated[bool | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> dict:
    """Expedited first, then by decision due time: the reviewers' queue (`status=submitted`), and
    `overdue=true` for undecided requests past their clock. A provider sees its own organisation's."""
    docs, next_cursor = await services.queue.page(principal, status=status_, overdue=overdue, cursor=cursor,
                                                  limit=limit)
    shown: dict[str, list[str]] = defaultdict(list)
    organizations: dict[str, str] = {}
    for doc in docs:
        shown[doc["member_id"]].append(doc["_id"])
        organizations[doc["member_id"]] = doc["organization_id"]
    await record_accesses(services.audit, principal, source=SOURCE, accesses=[
        dict(action="authorization.search", resource="authorizations", member_id=None,
             outcome=f"{len(docs)} results"),
        *(dict(action="authorization.search.result", resource="authorizations/" + ",".join(ids), member_id=member,
               outcome=f"{len(ids)} authorizations shown", organization_id=organizations[member])
          for member, ids in shown.items()),
    ])
    return {"items": [public_summary(doc) for doc in docs], "next_cursor": next_cursor}


@router.post(
    "/v1/authorizations/{authorization_id}/review", response_model=AuthorizationView,
    responses=problem_responses({**_AUTH, 404: _404, 409: _409}),
)
async def take_for_review(authorization_id: str, principal: Decider, services: ServicesDep) -> dict:
    """A reviewer takes a submitted request: submitted -> in_review."""
    authorization = await visible(services.repository, services.audit, authorization_id, principal,
                                  "authorization.review")
    after = await services.workflow.review(authorization, principal)
    await _audited(services, principal, after, "authorization.review", after.status or "")
    return await services.shown(after)


@router.post(
    "/v1/authorizations/{authorization_id}/decisions", response_model=AuthorizationView,
    responses=problem_responses({**_AUTH, 404: _404, 409: _409, 422: "The decision does not fit: approved_units "
                                 "above the request, a window outside it, a denial without reason_code, an info "
                                 "request without a note."}),
)
async def decide(authorization_id: str, body: DecisionBody, principal: Decider, services: ServicesDep) -> dict:
    """approved (approved_units ≤ requested, a window within the requested one), denied (reason_code),
    or info_requested (note: what is needed; the provider answers, and the request is back in review)."""
    authorization = await visible(services.repository, services.audit, authorization_id, principal,
                                  "authorization.decide")
    after = await services.workflow.decide(authorization, body, principal)
    await _audited(services, principal, after, "authorization.decide", body.decision)
    return await services.shown(after)


@router.post(
    "/v1/authorizations/{authorization_id}/info-requests/{info_request_id}/responses",
    status_code=status.HTTP_201_CREATED, response_model=AuthorizationView,
    responses=problem_responses({**_AUTH, 404: _404, 409: _409,
                                 422: "No message and no attachments, or attachments of something else."}),
)
async def answer_info_request(authorization_id: str, info_request_id: str, body: AnswerBody, principal: Provider,
                              services: ServicesDep) -> dict:
    """The provider answers the reviewer (a message and/or attachment ids of this authorization)."""
    authorization = await visible(services.repository, services.audit, authorization_id, principal,
                                  "authorization.info_request.answer")
    after = await services.workflow.answer(authorization, info_request_id[:64], body, principal)
    await _audited(services, principal, after, "authorization.info_request.answer", after.status or "")
    return await services.shown(after)


@router.post(
    "/v1/authorizations/{authorization_id}/cancellation", response_model=AuthorizationView,
    responses=problem_responses({**_AUTH, 404: _404, 409: "Decided already (invalid_authorization_status)."}),
)
async def cancel(authorization_id: str, principal: Provider, services: ServicesDep) -> dict:
    """The requesting provider withdraws its undecided request."""
    authorization = await visible(services.repository, services.audit, authorization_id, principal,
                                  "authorization.cancel")
    if authorization.organization_id != principal.organization_id:
        raise not_found()
    after = await services.workflow.cancel(authorization)
    await _audited(services, principal, after, "authorization.cancel", after.status or "")
    return await services.shown(after)
