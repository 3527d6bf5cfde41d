"""Info requests over HTTP: an operator asks for documentation, the provider answers.

Both are commands on the Claim aggregate (domain/claim.py), appended at the claim's
expected version like every other change of a claim: one atomic write each.

Idempotency without a record of its own (infra/idempotency.py): an operator's
request gets its id from (operator client, claim, Idempotency-Key), so a retry finds
the request in the claim and compares what it asked for; an answer is unique per
info request by nature, so a second answer with the same body is the first one
replayed and one with another body is refused.

The answer's text is kept as a message of the claim in `claim_messages` (id derived
from the info request and the text, written before the answer's event: a lost race
leaves an unreferenced message, never an answer without its text). The messages and
attachments routes come later; attachment ids are recorded, not yet checked.
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
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from infra.http.auth import Principal
from infra.http.problems import Problem
from infra.idempotency import IdempotentRequest, conflict
from services.claims.domain import Claim, ClaimError, ClaimEvent, InfoRequest, InvalidTransition, UnknownInfoRequest
from services.claims.repository import ClaimRepository

_NAMESPACE = uuid.UUID("9e3c51b2-7f0a-4d8e-b6a1-3c2d5e4f6a70")
MESSAGES = "claim_messages"

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
    line_numbers: Annotated[list[Annotated[int, Field(strict=True, ge=1, le=50)]], Field(max_length=50)] = Field(
        default=[], description="The claim lines the request is about; empty: the whole claim."
    )


class InfoResponseBody(_Strict):
    message: Message | None = None
    attachment_ids: Annotated[list[AttachmentId], Field(max_length=20)] = Field(
        default=[], description="Attachments of the claim that answer the request (not yet checked to exist)."
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
    }
    if request.answer is not None:
        body.update(status="answered", answered_at=_instant(request.answer.answered_at),
                    attachment_ids=list(request.answer.attachment_ids))
        if request.answer.message_id:
            body["message_id"] = request.answer.message_id
    elif request.is_expired_on(datetime.now(UTC).date()):
        body["status"] = "expired"
    return body


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class InfoRequests:
    def __init__(self, repository: ClaimRepository, db: AsyncDatabase, default_due_days: int) -> None:
        self.repository = repository
        self.messages: AsyncCollection = db[MESSAGES]
        self.default_due_days = default_due_days

    async def load(self, claim_id: str) -> Claim:
        claim = await self.repository.load(claim_id) if len(claim_id) <= 64 else None
        if claim is None or claim.received is None:
            raise _not_found()
        return claim

    # ----------------------------------------------------------- operator asks

    async def request(
        self, claim: Claim, body: InfoRequestBody, principal: Principal, idempotency_key: str | None
    ) -> Answered:
        due_in_days = body.due_in_days or self.default_due_days
        asked = body.model_copy(update={"due_in_days": due_in_days})
        idempotent = IdempotentRequest.of(_NAMESPACE, principal.client_id, idempotency_key,
                                          asked.model_dump(mode="json"), scope=f"info-request:{claim.claim_id}")
        request_id = idempotent.resource_id

        def decide(current: Claim | None) -> list[ClaimEvent]:
            assert current is not None  # a claim's stream is never deleted
            return current.request_info(
                info_request_id=request_id, rarc=asked.rarc, message=asked.message, due_in_days=due_in_days,
                requested_at=datetime.now(UTC), line_numbers=asked.line_numbers,
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
                and existing.due_by == existing.requested_at.date() + timedelta(days=due_in_days))
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

        message_id = None
        if body.message is not None:
            message_id = await self._keep_message(claim, info_request_id, body.message, principal)

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

    async def _keep_message(self, claim: Claim, info_request_id: str, text: str, principal: Principal) -> str:
        message_id = _message_id(claim.claim_id, info_request_id, text)
        assert claim.received is not None
        await self.messages.update_one({"_id": message_id}, {"$setOnInsert": {
            "claim_id": claim.claim_id,
            "organization_id": claim.received.organization_id,
            "info_request_id": info_request_id,
            "body": text,
            "author": {"party": "provider", "role": principal.role, "client_id": principal.client_id},
            "sent_at": _instant(datetime.now(UTC)),
        }}, upsert=True)
        return message_id


def _message_id(claim_id: str, info_request_id: str, text: str) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return str(uuid.uuid5(_NAMESPACE, f"answer:{claim_id}:{info_request_id}:{digest}"))
