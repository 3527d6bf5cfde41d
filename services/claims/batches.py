"""Batch submission: up to 1,000 claims in one POST, each accepted or rejected on its own.

Every claim goes through intake exactly as POST /v1/claims does (shape, then every
edit), under an Idempotency-Key derived from the batch's id and its index, so its
claim id is fixed by the batch: a replay of the batch, or of a batch that died half
way, finds the claims already stored and stores none twice. The claims are taken
concurrently, so their event-store writes share insert rounds (infra/batching.py):
on FerretDB that, not the edits, is what a thousand claims cost.

The batch's answer is kept (`claim_batches`, `_id` = batch id, derived from the
organisation and the batch's Idempotency-Key) and written once every claim is decided:
the same key with the same body returns it; with another body, 409.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from infra.http.auth import Principal, Provider, require_role
from infra.http.problems import Problem, problem_responses
from infra.idempotency import IdempotencyKey, IdempotentRequest, derive_id, mark_replayed
from services.claims.domain import ClaimSubmission, MemberFacts, problems_from_validation_errors
from services.claims.domain.batch import MAX_BATCH_CLAIMS, body_fingerprint, claim_key, received, rejected, summary
from services.claims.intake import Intake

router = APIRouter(tags=["claim batches"])
BATCHES = "claim_batches"
_NAMESPACE = uuid.UUID("c4a1f7e2-8d3b-4b6a-a5e9-2f0d7c1b9e34")
CONCURRENCY = 64
MAX_BATCH_BODY_BYTES = 16 * 1024 * 1024


class BatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claims: Annotated[list[Any], Field(min_length=1)] = Field(
        description=f"Up to {MAX_BATCH_CLAIMS:,} claims, each shaped as the body of POST /v1/claims.")


class BatchResult(BaseModel):
    index: int
    status: str
    claim_id: str | None = None
    errors: list[dict[str, str]] | None = None


class BatchReceipt(BaseModel):
    batch_id: str
    received_at: str
    accepted: int
    rejected: int
    results: list[BatchResult]


class _RememberedMembers:
    """The batch's member look-ups, once per member (a batch is usually a few patients' claims)."""

    def __init__(self, members) -> None:
        self.members = members
        self._facts: dict[str, asyncio.Task] = {}

    async def facts(self, member_id: str) -> MemberFacts | None:
        task = self._facts.get(member_id)
        if task is None:
            task = self._facts[member_id] = asyncio.ensure_future(self.members.facts(member_id))
        return await task


class ClaimBatches:
    def __init__(self, intake: Intake, db: AsyncDatabase) -> None:
        self.intake = intake
        self.batches = db[BATCHES]

    async def submit(self, body: BatchBody, raw: dict, principal: Principal,
                     idempotency_key: str | None) -> tuple[dict, bool]:
        if len(body.claims) > MAX_BATCH_CLAIMS:
            raise Problem(413, f"A batch holds at most {MAX_BATCH_CLAIMS} claims; this one has {len(body.claims)}.",
                          code="batch_too_large", errors=[{"loc": "claims", "code": "too_many_claims",
                                                           "message": f"at most {MAX_BATCH_CLAIMS} claims"}])
        request = IdempotentRequest(idempotency_key, derive_id(_NAMESPACE, principal.organization_id,
                                                               idempotency_key, scope="batch"), body_fingerprint(raw))
        batch_id = request.resource_id
        if idempotency_key:
            stored = await self.batches.find_one({"_id": batch_id})
            if stored is not None:
                request.check(stored.get("body_sha256"))
                return _shown(stored), True
        received_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        intake = self.intake.with_members(_RememberedMembers(self.intake.members))
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(index: int, claim: Any) -> dict[str, Any]:
            async with gate:
                return await _submit_one(intake, index, claim, principal, batch_id)

        results = await asyncio.gather(*(one(i, c) for i, c in enumerate(body.claims)))
        answer = summary(batch_id, received_at, results)
        doc = {"_id": batch_id, "organization_id": principal.organization_id, "body_sha256": request.fingerprint,
               **{k: v for k, v in answer.items() if k != "batch_id"}}
        try:
            await self.batches.insert_one(doc)
        except DuplicateKeyError:
            stored = await self.batches.find_one({"_id": batch_id})  # a concurrent replay finished first
            assert stored is not None
            request.check(stored.get("body_sha256"))
            return _shown(stored), True
        return answer, False

    async def get(self, batch_id: str, principal: Principal) -> dict:
        stored = await self.batches.find_one({"_id": batch_id}) if len(batch_id) <= 64 else None
        if stored is None or not principal.can_see(stored["organization_id"]):
            raise Problem(404, "No such batch.", code="not_found")
        return _shown(stored)


async def _submit_one(intake: Intake, index: int, claim: Any, principal: Principal, batch_id: str) -> dict:
    try:
        submission = ClaimSubmission.model_validate(claim)
    except ValidationError as exc:
        return rejected(index, [p.as_dict() for p in problems_from_validation_errors(exc.errors())])
    try:
        receipt = await intake.submit(submission, submission.model_dump(mode="json"), principal,
                                      claim_key(batch_id, index))
    except Problem as problem:
        errors = problem.errors or [{"loc": "", "code": problem.code or "rejected", "message": problem.detail}]
        return rejected(index, errors)
    return received(index, receipt.claim_id)


def _shown(stored: dict) -> dict:
    return {"batch_id": stored["_id"], "received_at": stored["received_at"], "accepted": stored["accepted"],
            "rejected": stored["rejected"], "results": stored["results"]}


async def get_batches(request: Request) -> ClaimBatches:
    return request.app.state.batches


BatchesDep = Annotated[ClaimBatches, Depends(get_batches)]
Reader = Annotated[Principal, require_role("provider", "operator", "reviewer")]


@router.post(
    "/v1/claims/batches", status_code=status.HTTP_201_CREATED, response_model=BatchReceipt,
    response_model_exclude_none=True,
    responses=problem_responses({
        401: "No valid bearer token.", 403: "The caller's role may not use this endpoint.",
        409: "The Idempotency-Key was used with another body (idempotency_conflict).",
        413: f"More than {MAX_BATCH_CLAIMS} claims (batch_too_large), or a body over "
             f"{MAX_BATCH_BODY_BYTES // (1024 * 1024)} MiB.",
        422: "The body is not {\"claims\": [..]} with at least one claim. A claim that fails its edits is "
             "not a 422: it is rejected in `results` with its errors.",
    }),
)
async def submit_batch(
    body: BatchBody, response: Response, principal: Provider, batches: BatchesDep,
    idempotency_key: IdempotencyKey = None,
) -> dict:
    """Submit up to 1,000 claims; each is edited and accepted or rejected on its own."""
    answer, replayed = await batches.submit(body, body.model_dump(mode="json"), principal, idempotency_key)
    if replayed:
        mark_replayed(response)
    response.headers["Location"] = f"/v1/claims/batches/{answer['batch_id']}"
    return answer


@router.get(
    "/v1/claims/batches/{batch_id}", response_model=BatchReceipt, response_model_exclude_none=True,
    responses=problem_responses({401: "No valid bearer token.", 404: "No such batch (or not yours)."}),
)
async def get_batch(batch_id: str, principal: Reader, batches: BatchesDep) -> dict:
    return await batches.get(batch_id, principal)


def body_limit(method: str, path: str) -> int | None:
    return MAX_BATCH_BODY_BYTES if method == "POST" and path == "/v1/claims/batches" else None
