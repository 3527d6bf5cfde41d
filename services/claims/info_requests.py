"""Info requests over HTTP: an operator asks for documentation, the provider answers.

Both are commands on the Claim aggregate (domain/claim.py), appended at the claim's
expected version like every other change of a claim: one atomic write each.

Idempotency without a record of its own (infra/idempotency.py): an operator's
request gets its id from (operator client, claim, Idempotency-Key), so a retry finds
the request in the claim and compares what it asked for; an answer is unique per
info request by nature, so a second answer with the same body is the first one
replayed and one with another body is refused.

The answer's text is a message of the claim's thread (infra/messages.py, in
`claim_messages`; id derived from the info request and the text, written before the
answer's event: a lost race leaves an unreferenced message, never an answer without
its text). Its attachment ids must name attachments of the same claim (422 naming
each one that does not).

Due: `due_in_days` (default the claims setting, 45), or `due_in_seconds` for a short
deadline (tests, a black-box check of expiry); seconds below the service's minimum
(`info_request_min_due_seconds`: a day in production, 1 s locally) are refused.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from infra.attachments.store import AttachmentStore
from infra.http.auth import Principal
from infra.http.problems import Problem
from infra.idempotency import IdempotentRequest, conflict
from infra.messages import MessageStore
from services.claims.domain import Claim, ClaimError, ClaimEvent, InfoRequest, InvalidTransition, UnknownInfoRequest
from services.claims.repository import ClaimRepository

_NAMESPACE = uuid.UUID("9e3c51b2-7f0a-4d8e-b6a1-3c2d5e4f6a70")
MESSAGES = "claim_messages"
OWNER_KIND = "claim"

_RARC = re.compile(r"(M|MA|N)[0-9]{1,3}")


def _rarc(value: str) -> str:
    if not _RARC.fullmatch(value):
        raise PydanticCustomError("rarc_format", "must be a remittance advice remark code such as M127 or N350")
    return value


Rarc = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=6), AfterValidator(_rarc)]
"""An X12 remittance advice remark code: M127, MA130, N350, ... (any case on input)."""
Message = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
AttachmentId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InfoRequestBody(_Strict):
    rarc: Rarc = Field(description="What is missing, e.g. M127 (medical record), N350 (description of service).")
    message: Message = Field(description="Plain words for the provider; no patient data.")
    due_in_days: Annotated[int, Field(strict=True, ge=1, le=365)] | None = Field(
        default=None, description="Days the provider has to answer (default: the claims setting, 45)."
    )
    due_in_seconds: Annotated[int, Field(strict=True, ge=1, le=365 * 86400)] | None = Field(
        default=None, description="Instead of due_in_days: seconds the provider has to answer. At least the "
        "service's minimum (a day in production; 1 second on the local stack, for trying expiry out).",
    )
    line_numbers: Annotated[list[Annotated[int, Field(strict=True, ge=1, le=50)]], Field(max_length=50)] = Field(
        default=[], description="The claim lines the request is about; empty: the whole claim."
    )


class InfoResponseBody(_Strict):
    message: Message | None = None
    attachment_ids: Annotated[list[AttachmentId], Field(max_length=20)] = Field(
        default=[], description="Attachments of the same claim that answer the request (uploaded first)."
    )


@dataclass(frozen=True)
class Answered:
    body: dict[str, Any]
    replayed: bool


def _not_found() -> Problem:
    return Problem(404, "No such claim.", code="not_found")


def _no_such_request() -> Problem:
    return Problem(404, "No such info request.", code="not_found")


def receipt(claim: Claim, request: InfoRequest, message: str | None = None) -> dict[str, Any]:
    """The request as GET /v1/claims/{id} lists it, plus the claim id."""
    body: dict[str, Any] = {
        "claim_id": claim.claim_id,
        "info_request_id": request.info_request_id,
        "requested_at": _instant(request.requested_at),
        "due_by": request.due_by.isoformat(),
        "carc": request.carc,
        "rarc": request.rarc,
        "message": request.message,
        "requested_by": request.requested_by,
        "line_numbers": list(request.line_numbers),
        "status": "open",
        "due_at": _instant(request.due_instant),
    }
    if request.expired_at is not None:
        body.update(status="expired", expired_at=_instant(request.expired_at))
    elif request.answer is not None:
        body.update(status="answered", answered_at=_instant(request.answer.answered_at),
                    attachment_ids=list(request.answer.attachment_ids))
        if request.answer.message_id:
            body["message_id"] = request.answer.message_id
    elif request.is_past_due(datetime.now(UTC)):
        body["status"] = "expired"
    return body


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class InfoRequests:
    def __init__(
        self, repository: ClaimRepository, messages: MessageStore, attachments: AttachmentStore,
        default_due_days: int, min_due_seconds: int = 86400,
    ) -> None:
        self.repository = repository
        self.messages = messages
        self.attachments = attachments
        self.default_due_days = default_due_days
        self.min_due_seconds = min_due_seconds

    async def load(self, claim_id: str) -> Claim:
        claim = await self.repository.load(claim_id) if len(claim_id) <= 64 else None
        if claim is None or claim.received is None:
            raise _not_found()
        return claim

    # ----------------------------------------------------------- operator asks

    async def request(
        self, claim: Claim, body: InfoRequestBody, principal: Principal, idempotency_key: str | None
    ) -> Answered:
        if body.due_in_days is not None and body.due_in_seconds is not None:
            raise Problem(422, "Say the due time once.", code="validation", errors=[
                {"loc": "due_in_seconds", "code": "conflicting_due", "message": "give due_in_days or due_in_seconds"}])
        if body.due_in_seconds is not None and body.due_in_seconds < self.min_due_seconds:
            raise Problem(422, "The due time is too short.", code="validation", errors=[
                {"loc": "due_in_seconds", "code": "due_too_soon",
                 "message": f"at least {self.min_due_seconds} seconds here"}])
        due_in_days = body.due_in_days or self.default_due_days
        due_in_seconds = body.due_in_seconds
        asked = body.model_copy(update={"due_in_days": None if due_in_seconds else due_in_days})
        idempotent = IdempotentRequest.of(_NAMESPACE, principal.client_id, idempotency_key,
                                          asked.model_dump(mode="json"), scope=f"info-request:{claim.claim_id}")
        request_id = idempotent.resource_id

        def decide(current: Claim | None) -> list[ClaimEvent]:
            assert current is not None  # a claim's stream is never deleted
            return current.request_info(
                info_request_id=request_id, rarc=asked.rarc, message=asked.message, due_in_days=due_in_days,
                requested_at=datetime.now(UTC), line_numbers=asked.line_numbers, due_in_seconds=due_in_seconds,
            )

        existing = claim.info_requests.get(request_id)
        if existing is None:
            try:
                outcome = await self.repository.execute(claim.claim_id, decide)
            except InvalidTransition as exc:
                raise Problem(409, f"The claim cannot be asked for information: {exc}.",
                              code="invalid_claim_status") from None
            except ClaimError as exc:
                raise Problem(422, "The info request does not fit the claim.", code="validation", errors=[
                    {"loc": "line_numbers", "code": "unknown_line", "message": str(exc)}]) from None
            assert outcome.state is not None
            claim, existing = outcome.state, outcome.state.info_requests[request_id]
            if outcome.appended:
                return Answered(receipt(claim, existing), replayed=False)
        # A retry with the same key: the same request, or a conflict.
        same = (existing.requested_by == "operator" and existing.rarc == asked.rarc
                and existing.message == asked.message and list(existing.line_numbers) == sorted(set(asked.line_numbers))
                and (existing.due_instant == existing.requested_at + timedelta(seconds=due_in_seconds)
                     if due_in_seconds else existing.due_by == existing.requested_at.date() + timedelta(days=due_in_days)))
        if not same:
            raise conflict()
        return Answered(receipt(claim, existing), replayed=True)

    # -------------------------------------------------------- provider answers

    async def answer(
        self, claim: Claim, info_request_id: str, body: InfoResponseBody, principal: Principal,
        idempotency_key: str | None,
    ) -> Answered:
        request = claim.info_requests.get(info_request_id)
        if request is None:
            raise _no_such_request()
        if request.answer is not None:
            return await self._replayed(claim, request, body, idempotency_key)
        foreign = await self.attachments.foreign(OWNER_KIND, claim.claim_id, list(body.attachment_ids))
        if foreign:
            raise Problem(422, "The answer names attachments this claim does not have.", code="validation",
                          errors=foreign)

        message_id = None
        if body.message is not None:
            message_id = await self._keep_message(claim, info_request_id, body.message, principal,
                                                  list(body.attachment_ids))

        def decide(current: Claim | None) -> list[ClaimEvent]:
            assert current is not None
            return current.answer_info_request(
                info_request_id, datetime.now(UTC), message_id=message_id, attachment_ids=body.attachment_ids
            )

        try:
            outcome = await self.repository.execute(claim.claim_id, decide)
        except UnknownInfoRequest:
            raise _no_such_request() from None
        except InvalidTransition as exc:
            raise Problem(409, f"The info request cannot be answered: {exc}.", code="info_request_closed") from None
        assert outcome.state is not None
        answered = outcome.state.info_requests[info_request_id]
        if not outcome.appended:  # a concurrent answer got there first
            return await self._replayed(outcome.state, answered, body, idempotency_key)
        return Answered(receipt(outcome.state, answered), replayed=False)

    async def _replayed(
        self, claim: Claim, request: InfoRequest, body: InfoResponseBody, idempotency_key: str | None
    ) -> Answered:
        """The first answer again when this one says the same; else a conflict."""
        assert request.answer is not None
        same = list(request.answer.attachment_ids) == list(body.attachment_ids)
        if same and (request.answer.message_id is None) != (body.message is None):
            same = False
        if same and body.message is not None:
            same = request.answer.message_id == _message_id(claim.claim_id, request.info_request_id, body.message)
        if not same:
            if idempotency_key:
                raise conflict()
            raise Problem(409, "The info request was already answered.", code="info_request_answered")
        return Answered(receipt(claim, request), replayed=True)

    async def _keep_message(
        self, claim: Claim, info_request_id: str, text: str, principal: Principal, attachment_ids: list[str]
    ) -> str:
        message_id = _message_id(claim.claim_id, info_request_id, text)
        assert claim.received is not None
        await self.messages.keep(
            message_id=message_id, owner_kind=OWNER_KIND, owner_id=claim.claim_id,
            organization_id=claim.received.organization_id, body=text, attachment_ids=attachment_ids,
            principal=principal, sent_at=datetime.now(UTC), extra={"info_request_id": info_request_id},
        )
        return message_id


def _message_id(claim_id: str, info_request_id: str, text: str) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return str(uuid.uuid5(_NAMESPACE, f"answer:{claim_id}:{info_request_id}:{digest}"))
