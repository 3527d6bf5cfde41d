"""An authorization's secure-message thread: the shared bodies of infra/messages.py, the order
of the aggregate's own events (authorization.message_posted, info requests, answers, notes),
wired as claims wires its thread (services/claims/messages.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel

from infra.attachments.store import AttachmentStore
from infra.audit import record_access
from infra.cursors import page_of
from infra.eventstore import EventStore
from infra.http.auth import Principal, require_role
from infra.http.problems import Problem, problem_responses
from infra.idempotency import IdempotencyKey, conflict, mark_replayed
from infra.messages import MessageBody, MessageStore, body_fingerprint, message_id_for, public
from infra.parties import party_of
from services.authorizations.access import SOURCE, visible
from services.authorizations.domain import Authorization, Change
from services.authorizations.repository import AuthorizationRepository
from services.authorizations.workflow import OWNER_KIND

router = APIRouter(tags=["authorization messages"])


class AuthorizationMessages:
    def __init__(self, repository: AuthorizationRepository, store: MessageStore, attachments: AttachmentStore,
                 audit: EventStore) -> None:
        self.repository = repository
        self.store = store
        self.attachments = attachments
        self.audit = audit

    async def post(self, authorization: Authorization, body: MessageBody, principal: Principal,
                   idempotency_key: str | None) -> tuple[dict, bool]:
        message_id = message_id_for(principal, OWNER_KIND, authorization.authorization_id, idempotency_key)
        if message_id in authorization.message_ids:
            stored = await self.store.get(message_id)
            if stored is None or stored["fingerprint"] != body_fingerprint(body.body, body.attachment_ids):
                raise conflict()
            return public(stored, OWNER_KIND), True
        foreign = await self.attachments.foreign(OWNER_KIND, authorization.authorization_id, list(body.attachment_ids))
        if foreign:
            raise Problem(422, "The message names attachments this authorization does not have.", code="validation",
                          errors=foreign)
        now = datetime.now(UTC)
        stored = await self.store.keep(
            message_id=message_id, owner_kind=OWNER_KIND, owner_id=authorization.authorization_id,
            organization_id=authorization.organization_id, body=body.body, attachment_ids=body.attachment_ids,
            principal=principal, sent_at=now,
        )
        if stored["fingerprint"] != body_fingerprint(body.body, body.attachment_ids):
            raise conflict()

        def decide(current: Authorization | None) -> list[Change]:
            assert current is not None
            return current.post_message(message_id=message_id, author_party=party_of(principal),
                                        author_role=principal.role, posted_at=now,
                                        attachment_ids=list(body.attachment_ids))

        await self.repository.execute(authorization.authorization_id, decide)
        return public(stored, OWNER_KIND), False

    async def thread(self, authorization: Authorization, cursor: str | None, limit: int) -> dict:
        page = page_of(authorization.message_ids, cursor, limit)
        docs = await self.store.get_many(page.items)
        return {"items": [public(doc, OWNER_KIND) for doc in docs], "next_cursor": page.next_cursor}


async def get_messages(request: Request) -> AuthorizationMessages:
    return request.app.state.messages


MessagesDep = Annotated[AuthorizationMessages, Depends(get_messages)]
Anyone = Annotated[Principal, require_role("provider", "operator", "reviewer")]
_404 = "No such authorization (or not your organisation's: the same answer)."


class Author(BaseModel):
    party: str
    role: str


class MessageView(BaseModel):
    message_id: str
    authorization_id: str
    body: str
    attachment_ids: list[str]
    author: Author
    sent_at: str
    info_request_id: str | None = None


class MessagePage(BaseModel):
    items: list[MessageView]
    next_cursor: str | None


@router.post(
    "/v1/authorizations/{authorization_id}/messages", status_code=status.HTTP_201_CREATED, response_model=MessageView,
    responses=problem_responses({
        401: "No valid bearer token.", 404: _404,
        409: "The Idempotency-Key was used with another body (idempotency_conflict), or the authorization changed "
             "concurrently too often (concurrent_update).",
        422: "The body is empty or too long, or an attachment id is not one of this authorization's.",
    }),
)
async def post_message(authorization_id: str, body: MessageBody, response: Response, principal: Anyone,
                       messages: MessagesDep, idempotency_key: IdempotencyKey = None) -> dict:
    authorization = await visible(messages.repository, messages.audit, authorization_id, principal,
                                  "authorization.message.post")
    shown, replayed = await messages.post(authorization, body, principal, idempotency_key)
    await record_access(
        messages.audit, principal, source=SOURCE, action="authorization.message.post",
        resource=f"authorizations/{authorization_id}/messages/{shown['message_id']}",
        member_id=authorization.member_id, outcome="replayed" if replayed else "posted",
        organization_id=authorization.organization_id,
    )
    if replayed:
        mark_replayed(response)
    return shown


@router.get(
    "/v1/authorizations/{authorization_id}/messages", response_model=MessagePage,
    responses=problem_responses({401: "No valid bearer token.", 404: _404,
                                 422: "A query parameter is malformed (e.g. invalid_cursor)."}),
)
async def read_thread(authorization_id: str, principal: Anyone, messages: MessagesDep,
                      cursor: Annotated[str | None, Query(max_length=200)] = None,
                      limit: Annotated[int, Query(ge=1, le=100)] = 25) -> dict:
    """The thread, oldest first: messages, the reviewer's questions and notes, the provider's answers."""
    authorization = await visible(messages.repository, messages.audit, authorization_id, principal,
                                  "authorization.messages.read")
    page = await messages.thread(authorization, cursor, limit)
    await record_access(
        messages.audit, principal, source=SOURCE, action="authorization.messages.read",
        resource=f"authorizations/{authorization_id}/messages", member_id=authorization.member_id,
        outcome=f"{len(page['items'])} messages", organization_id=authorization.organization_id,
    )
    return page
