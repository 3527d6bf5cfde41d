"""A claim's secure-message thread over HTTP: post (provider or payer), read oldest first.

The bodies are kept by infra/messages.py; the thread's order is the claim's own
(claim.message_posted events, and the text of info-request answers), so a message is
posted with one body write and one event append, and the event carries no body.
"""

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
from services.claims.access import visible_claim
from services.claims.domain import Claim, ClaimEvent
from services.claims.repository import ClaimRepository

router = APIRouter(tags=["claim messages"])
SOURCE = "/services/claims"
OWNER_KIND = "claim"


class ClaimMessages:
    def __init__(self, repository: ClaimRepository, store: MessageStore, attachments: AttachmentStore,
                 audit: EventStore) -> None:
        self.repository = repository
        self.store = store
        self.attachments = attachments
        self.audit = audit

    async def post(self, claim: Claim, body: MessageBody, principal: Principal,
                   idempotency_key: str | None) -> tuple[dict, bool]:
        assert claim.received is not None
        message_id = message_id_for(principal, OWNER_KIND, claim.claim_id, idempotency_key)
        if message_id in claim.message_ids:
            return await self._replayed(message_id, body), True
        foreign = await self.attachments.foreign(OWNER_KIND, claim.claim_id, list(body.attachment_ids))
        if foreign:
            raise Problem(422, "The message names attachments this claim does not have.", code="validation",
                          errors=foreign)
        now = datetime.now(UTC)
        stored = await self.store.keep(
            message_id=message_id, owner_kind=OWNER_KIND, owner_id=claim.claim_id,
            organization_id=claim.received.organization_id, body=body.body, attachment_ids=body.attachment_ids,
            principal=principal, sent_at=now,
        )
        if stored["fingerprint"] != body_fingerprint(body.body, body.attachment_ids):
            raise conflict()  # a retry with the same key but another text found the first one's body

        def decide(current: Claim | None) -> list[ClaimEvent]:
            assert current is not None
            return current.post_message(message_id=message_id, author_party=party_of(principal),
                                        author_role=principal.role, posted_at=now,
                                        attachment_ids=body.attachment_ids)

        await self.repository.execute(claim.claim_id, decide)
        return public(stored, OWNER_KIND), False

    async def _replayed(self, message_id: str, body: MessageBody) -> dict:
        stored = await self.store.get(message_id)
        if stored is None or stored["fingerprint"] != body_fingerprint(body.body, body.attachment_ids):
            raise conflict()
        return public(stored, OWNER_KIND)

    async def thread(self, claim: Claim, cursor: str | None, limit: int) -> dict:
        page = page_of(claim.message_ids, cursor, limit)
        docs = await self.store.get_many(page.items)
        return {"items": [public(doc, OWNER_KIND) for doc in docs], "next_cursor": page.next_cursor}


async def get_messages(request: Request) -> ClaimMessages:
    return request.app.state.messages


MessagesDep = Annotated[ClaimMessages, Depends(get_messages)]
Anyone = Annotated[Principal, require_role("provider", "operator", "reviewer")]
_404 = "No such claim (or not your organisation's: the same answer)."


class Author(BaseModel):
    party: str
    role: str


class MessageView(BaseModel):
    message_id: str
    claim_id: str
    body: str
    attachment_ids: list[str]
    author: Author
    sent_at: str
    info_request_id: str | None = None


class MessagePage(BaseModel):
    items: list[MessageView]
    next_cursor: str | None


@router.post(
    "/v1/claims/{claim_id}/messages", status_code=status.HTTP_201_CREATED, response_model=MessageView,
    responses=problem_responses({
        401: "No valid bearer token.", 404: _404,
        409: "The Idempotency-Key was used with another body (idempotency_conflict), or the claim changed "
             "concurrently too often (concurrent_update).",
        422: "The body is empty or longer than 10,000 characters, or an attachment id is not one of this "
             "claim's (unknown_attachment, naming it).",
    }),
)
async def post_message(
    claim_id: str, body: MessageBody, response: Response, principal: Anyone, messages: MessagesDep,
    idempotency_key: IdempotencyKey = None,
) -> dict:
    """A message on the claim's thread: from the provider organisation, or from the payer
    (operators and reviewers). The claims.events event says only that a message came."""
    claim = await visible_claim(messages.repository, claim_id, principal)
    assert claim.received is not None
    shown, replayed = await messages.post(claim, body, principal, idempotency_key)
    await record_access(
        messages.audit, principal, source=SOURCE, action="claim.message.post",
        resource=f"claims/{claim_id}/messages/{shown['message_id']}", member_id=claim.received.member_id,
        outcome="replayed" if replayed else "posted", organization_id=claim.received.organization_id,
    )
    if replayed:
        mark_replayed(response)
    return shown


@router.get(
    "/v1/claims/{claim_id}/messages", response_model=MessagePage,
    responses=problem_responses({401: "No valid bearer token.", 404: _404,
                                 422: "A query parameter is malformed (e.g. invalid_cursor)."}),
)
async def read_thread(
    claim_id: str, principal: Anyone, messages: MessagesDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> dict:
    """The claim's thread, oldest first; `next_cursor` while more follow."""
    claim = await visible_claim(messages.repository, claim_id, principal)
    assert claim.received is not None
    page = await messages.thread(claim, cursor, limit)
    await record_access(
        messages.audit, principal, source=SOURCE, action="claim.messages.read",
        resource=f"claims/{claim_id}/messages", member_id=claim.received.member_id,
        outcome=f"{len(page['items'])} messages", organization_id=claim.received.organization_id,
    )
    return page


