"""The review workflow: take for review, decide, ask for information, the provider's answer, cancellation.

Each is one command on the aggregate appended at its expected version. Free text (a
reviewer's note or question, the provider's answer) is written to the authorization's
message thread first (infra/messages.py) and the event names only its message id, so
authorizations.events never carries a person's words (ADR 18).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from infra.attachments.store import AttachmentStore
from infra.http.auth import Principal
from infra.http.problems import Problem
from infra.messages import MessageStore
from services.authorizations.domain import (
    Authorization,
    Change,
    InvalidDecision,
    InvalidTransition,
    UnknownInfoRequest,
)
from services.authorizations.repository import AuthorizationRepository

OWNER_KIND = "authorization"
MESSAGES = "authorization_messages"
_NAMESPACE = uuid.UUID("8b2d4f6a-1c3e-4d5f-9a7b-2e4c6d8f0a13")
_REASON = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: Literal["approved", "denied", "info_requested"]
    approved_units: Annotated[int, Field(strict=True, ge=1, le=999)] | None = None
    start_date: date | None = Field(default=None, description="approved: the validity window's first day "
                                    "(default the requested start; within the requested window).")
    end_date: date | None = Field(default=None, description="approved: its last day, inclusive.")
    reason_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = Field(
        default=None, description="denied: the specific reason (CMS-0057-F), e.g. not_medically_necessary, "
        "insufficient_documentation, or a CARC such as 50.")
    note: Text | None = Field(default=None, description="For the provider; info_requested: what is needed.")


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    message: Text | None = None
    attachment_ids: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=64)]],
                              Field(max_length=20)] = []


def problem_for(exc: Exception) -> Problem:
    if isinstance(exc, InvalidDecision):
        return Problem(422, "The decision does not fit the request.", code="validation",
                       errors=[{"loc": exc.loc, "code": exc.code, "message": exc.message}])
    if isinstance(exc, UnknownInfoRequest):
        return Problem(404, "No such info request.", code="not_found")
    return Problem(409, f"Not now: {exc}.", code="invalid_authorization_status")


def _decision_problems(body: DecisionBody) -> list[dict]:
    problems = []
    if body.decision == "denied":
        if not body.reason_code:
            problems.append({"loc": "reason_code", "code": "missing_reason_code",
                             "message": "a denial needs a specific reason code (CMS-0057-F)"})
        elif not _REASON.match(body.reason_code):
            problems.append({"loc": "reason_code", "code": "invalid_reason_code",
                             "message": "a reason code is letters, digits, '_', '.', '-'"})
    if body.decision == "info_requested" and not body.note:
        problems.append({"loc": "note", "code": "missing_note", "message": "say what information is needed"})
    if body.decision != "approved":
        for field in ("approved_units", "start_date", "end_date"):
            if getattr(body, field) is not None:
                problems.append({"loc": field, "code": "not_for_decision",
                                 "message": f"{field} is only for an approval"})
    return problems


class Workflow:
    def __init__(self, repository: AuthorizationRepository, messages: MessageStore, attachments: AttachmentStore) -> None:
        self.repository = repository
        self.messages = messages
        self.attachments = attachments

    async def _run(self, authorization_id: str, decide) -> Authorization:
        try:
            outcome = await self.repository.execute(authorization_id, decide)
        except (InvalidTransition, InvalidDecision, UnknownInfoRequest) as exc:
            raise problem_for(exc) from None
        assert outcome.state is not None
        return outcome.state

    async def review(self, authorization: Authorization, principal: Principal) -> Authorization:
        return await self._run(authorization.authorization_id, lambda current: current.take_for_review(
            at=datetime.now(UTC), by_role=principal.role))

    async def decide(self, authorization: Authorization, body: DecisionBody, principal: Principal) -> Authorization:
        problems = _decision_problems(body)
        if problems:
            raise Problem(422, f"The decision failed {len(problems)} check(s).", code="validation", errors=problems)
        if body.decision == "info_requested":
            return await self._request_info(authorization, body, principal)
        # Refused before the note is kept: a 409 leaves no stray text behind.
        problem = _precheck(authorization, body, principal)
        if problem is not None:
            raise problem
        note_id = await self._keep(authorization, body.note, principal, f"decision:{body.decision}") \
            if body.note else None

        def decide(current: Authorization | None) -> list[Change]:
            assert current is not None
            now = datetime.now(UTC)
            if body.decision == "approved":
                return current.approve(at=now, by_role=principal.role, approved_units=body.approved_units,
                                       start_date=body.start_date, end_date=body.end_date, note_message_id=note_id)
            return current.deny(at=now, by_role=principal.role, reason_code=body.reason_code, note_message_id=note_id)

        return await self._run(authorization.authorization_id, decide)

    async def _request_info(self, authorization: Authorization, body: DecisionBody,
                            principal: Principal) -> Authorization:
        assert body.note is not None
        if authorization.status not in ("submitted", "in_review"):
            raise problem_for(InvalidTransition(f"a request that is {authorization.status} cannot be asked"))
        # One open request at a time; its id names the question, so a retry asks nothing new.
        info_request_id = str(uuid.uuid5(_NAMESPACE, f"{authorization.authorization_id}:{authorization.version}"))
        message_id = await self._keep(authorization, body.note, principal, f"info:{info_request_id}",
                                      extra={"info_request_id": info_request_id})
        return await self._run(authorization.authorization_id, lambda current: current.request_info(
            info_request_id=info_request_id, message_id=message_id, at=datetime.now(UTC), by_role=principal.role))

    async def answer(self, authorization: Authorization, info_request_id: str, body: AnswerBody,
                     principal: Principal) -> Authorization:
        if body.message is None and not body.attachment_ids:
            raise Problem(422, "An answer says something.", code="validation", errors=[
                {"loc": "message", "code": "empty_answer", "message": "give a message, attachment_ids or both"}])
        request = authorization.info_requests.get(info_request_id)
        if request is None:
            raise problem_for(UnknownInfoRequest(info_request_id))
        if request.answered_at is not None:
            return authorization
        foreign = await self.attachments.foreign(OWNER_KIND, authorization.authorization_id, list(body.attachment_ids))
        if foreign:
            raise Problem(422, "The answer names attachments this authorization does not have.", code="validation",
                          errors=foreign)
        message_id = None
        if body.message:
            message_id = await self._keep(authorization, body.message, principal, f"answer:{info_request_id}",
                                          extra={"info_request_id": info_request_id},
                                          attachment_ids=list(body.attachment_ids))
        return await self._run(authorization.authorization_id, lambda current: current.answer_info_request(
            info_request_id, at=datetime.now(UTC), message_id=message_id, attachment_ids=list(body.attachment_ids)))

    async def cancel(self, authorization: Authorization) -> Authorization:
        return await self._run(authorization.authorization_id, lambda current: current.cancel(at=datetime.now(UTC)))

    async def _keep(self, authorization: Authorization, text: str, principal: Principal, purpose: str,
                    extra: dict | None = None, attachment_ids: list[str] | None = None) -> str:
        digest = hashlib.sha256(text.encode()).hexdigest()
        message_id = str(uuid.uuid5(_NAMESPACE, f"{authorization.authorization_id}:{purpose}:{digest}"))
        await self.messages.keep(
            message_id=message_id, owner_kind=OWNER_KIND, owner_id=authorization.authorization_id,
            organization_id=authorization.organization_id, body=text, attachment_ids=attachment_ids or [],
            principal=principal, sent_at=datetime.now(UTC), extra=extra,
        )
        return message_id


def _precheck(authorization: Authorization, body: DecisionBody, principal: Principal) -> Problem | None:
    try:
        now = datetime.now(UTC)
        if body.decision == "approved":
            authorization.approve(at=now, by_role=principal.role, approved_units=body.approved_units,
                                  start_date=body.start_date, end_date=body.end_date)
        else:
            authorization.deny(at=now, by_role=principal.role, reason_code=body.reason_code)
    except (InvalidTransition, InvalidDecision) as exc:
        return problem_for(exc)
    return None
