"""Payments HTTP routes: payment runs (operator) and remittances (provider: its own; operator: all).

Every remittance read is an audited read of patient data (a remittance names
patients' claims), refused ones included: another organisation's remittance answers
404, exactly as an id that does not exist, and the refusal is on the audit trail.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from infra.audit import record_access
from infra.eventstore import EventStore
from infra.http.auth import Operator, Principal, require_role
from infra.http.problems import Problem, problem_responses
from infra.idempotency import IdempotencyKey, derive_id, fingerprint, mark_replayed
from services.adjudication.payments.remittances import Remittances, public
from services.adjudication.payments.runs import PaymentRuns, RunConflict, RunRequest

router = APIRouter(tags=["payments"])
SOURCE = "/services/payments"
RUN_NAMESPACE = uuid.UUID("9f61c2d4-3a8e-4b7f-a5d0-2e6c8b1f4a97")
_AUTH = {401: "No valid bearer token.", 403: "The caller's role may not use this endpoint."}
Reader = Annotated[Principal, require_role("provider", "operator")]


async def get_runs(request: Request) -> PaymentRuns:
    return request.app.state.payment_runs


async def get_remittances(request: Request) -> Remittances:
    return request.app.state.remittances


async def get_audit_store(request: Request) -> EventStore:
    return request.app.state.runtime.store


RunsDep = Annotated[PaymentRuns, Depends(get_runs)]
RemittancesDep = Annotated[Remittances, Depends(get_remittances)]
AuditDep = Annotated[EventStore, Depends(get_audit_store)]


class PaymentRunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cutoff: AwareDatetime | None = Field(
        default=None, description="Pay what was decided up to this instant (default: now). Not in the future.")


class PaymentRunSummary(BaseModel):
    payment_run_id: str
    payments: int = Field(description="Payments (one remittance each): one per provider organisation paid.")
    claims: int = Field(description="Claims in the run's remittances, reversals (status 22) included.")
    total: str = Field(description="Sum of the payments' amounts.")
    cutoff: str
    status: str = Field(description="completed, or running when the run outlasted the request (202).")
    remittance_ids: list[str] = []


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    summary = run.get("summary") or {"payments": 0, "claims": 0, "total": "0.00"}
    cutoff = run["cutoff"].astimezone(UTC) if run["cutoff"].tzinfo else run["cutoff"].replace(tzinfo=UTC)
    return {"payment_run_id": run["_id"], **summary, "cutoff": cutoff.isoformat().replace("+00:00", "Z"),
            "status": "completed" if run["phase"] == "completed" else "running",
            "remittance_ids": list(run.get("remittance_ids", []))}


@router.post(
    "/v1/admin/payment-runs", status_code=status.HTTP_201_CREATED, response_model=PaymentRunSummary,
    responses=problem_responses({
        **_AUTH, 409: "The Idempotency-Key was used with another body (idempotency_conflict).",
        422: "The body is malformed, or the cutoff is in the future (cutoff_in_future).",
    }),
)
async def start_payment_run(
    response: Response, principal: Operator, runs: RunsDep, request: Request,
    body: Annotated[PaymentRunBody | None, Body()] = None, idempotency_key: IdempotencyKey = None,
) -> dict:
    """Pay every processed claim decided up to the cutoff: one payment and one 835-style
    remittance per provider organisation, reversals of paid claims since replaced or voided
    included. With an Idempotency-Key a replay answers with the same run."""
    body = body or PaymentRunBody()
    now = datetime.now(UTC)
    if body.cutoff is not None and body.cutoff > now:
        raise Problem(422, "A payment run pays what was decided, up to now at the latest.", code="validation",
                      errors=[{"loc": "cutoff", "code": "cutoff_in_future", "message": "the cutoff is in the future"}])
    asked = body.model_dump(mode="json", exclude_none=True)
    run_id = derive_id(RUN_NAMESPACE, principal.client_id, idempotency_key)
    run = RunRequest(
        payment_run_id=run_id, cutoff=body.cutoff or now, requested_by=f"{principal.role}:{principal.client_id}",
        fingerprint=fingerprint(asked), idempotency_key=idempotency_key,
    )
    wait = request.app.state.settings.payment_run_request_wait_seconds
    try:
        done, replayed = await asyncio.wait_for(runs.request(run), timeout=wait)
    except RunConflict:
        raise Problem(409, "This Idempotency-Key was used with a different body.", code="idempotency_conflict") from None
    except TimeoutError:
        response.status_code = status.HTTP_202_ACCEPTED
        done, replayed = await runs.runs.find_one({"_id": run_id}), False
    if replayed:
        mark_replayed(response)
    response.headers["Location"] = f"/v1/admin/payment-runs/{run_id}"
    return _summary(done)


@router.get(
    "/v1/admin/payment-runs/{payment_run_id}", response_model=PaymentRunSummary,
    responses=problem_responses({**_AUTH, 404: "No such payment run."}),
)
async def get_payment_run(payment_run_id: str, principal: Operator, runs: RunsDep) -> dict:
    run = await runs.runs.find_one({"_id": payment_run_id}) if len(payment_run_id) <= 64 else None
    if run is None:
        raise Problem(404, "No such payment run.", code="not_found")
    return _summary(run)


class RemittanceLine(BaseModel):
    line_number: int
    procedure_code: str
    charge: str
    allowed: str
    paid: str
    adjustments: list[dict[str, Any]]


class RemittanceClaim(BaseModel):
    claim_id: str
    status_code: str = Field(description='835 CLP02: "1" processed as primary, "4" denied, "22" reversal of an earlier payment.')
    charge: str
    allowed: str
    paid: str
    patient_responsibility: str
    lines: list[RemittanceLine]
    original_remittance_id: str | None = Field(default=None, description="On a reversal: the remittance that paid the claim.")


class ProviderAdjustment(BaseModel):
    reason: str = Field(description="WO: a negative net withheld and carried forward; FB: a carried balance recovered.")
    claim_id: str | None = None
    amount: str = Field(description="Signed so that payment.amount = sum(claims[].paid) + sum(provider_adjustments[].amount).")


class Payee(BaseModel):
    tin: str
    npi: str


class PaymentView(BaseModel):
    method: str
    eft_trace_number: str = Field(description="The 835 TRN02: unique across every payment run.")
    amount: str
    paid_at: str


class RemittanceView(BaseModel):
    remittance_id: str
    payment_run_id: str
    organization_id: str
    payee: Payee
    payment: PaymentView
    claims: list[RemittanceClaim]
    provider_adjustments: list[ProviderAdjustment]
    claim_count: int


class RemittanceSummary(BaseModel):
    remittance_id: str
    payment_run_id: str
    organization_id: str
    payee: Payee
    payment: PaymentView
    provider_adjustments: list[ProviderAdjustment]
    claim_count: int


class RemittancePage(BaseModel):
    items: list[RemittanceSummary]
    next_cursor: str | None


_NOT_FOUND = "No such remittance (or not your organisation's: the same answer)."


@router.get(
    "/v1/remittances/{remittance_id}", response_model=RemittanceView,
    responses=problem_responses({**_AUTH, 404: _NOT_FOUND}),
)
async def get_remittance(remittance_id: str, principal: Reader, remittances: RemittancesDep, audit: AuditDep) -> dict:
    header = await remittances.header(remittance_id) if len(remittance_id) <= 64 else None
    if header is None:
        raise Problem(404, "No such remittance.", code="not_found")
    allowed = principal.can_see(header["organization_id"])
    await record_access(
        audit, principal, source=SOURCE, action="remittance.read", resource=f"remittances/{remittance_id}",
        member_id=None, outcome=f"{header['claim_count']} claims" if allowed else "denied",
        organization_id=header["organization_id"],
    )
    if not allowed:
        raise Problem(404, "No such remittance.", code="not_found")
    return await remittances.full(header)


def _encode_cursor(paid_at: datetime, remittance_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([paid_at.isoformat(), remittance_id])).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, remittance_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), str(remittance_id)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise Problem(422, "The cursor is not one this API issued.", code="validation",
                      errors=[{"loc": "query.cursor", "code": "invalid_cursor", "message": "unknown cursor"}]) from None


@router.get(
    "/v1/remittances", response_model=RemittancePage,
    responses=problem_responses({**_AUTH, 422: "A query parameter is malformed (e.g. invalid_cursor, from after to)."}),
)
async def list_remittances(
    principal: Reader, remittances: RemittancesDep, audit: AuditDep,
    from_: Annotated[date | None, Query(alias="from", description="Paid on or after this date (UTC).")] = None,
    to: Annotated[date | None, Query(description="Paid on or before this date (UTC).")] = None,
    organization_id: Annotated[str | None, Query(max_length=64, description="Operators: one organisation's.")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> dict:
    """Remittances newest first, without their claims (GET one for them)."""
    if from_ is not None and to is not None and from_ > to:
        raise Problem(422, "from is after to.", code="validation",
                      errors=[{"loc": "query.from", "code": "from_after_to", "message": "from must not be after to"}])
    scope = organization_id if principal.is_operator else principal.organization_id
    after = _decode_cursor(cursor) if cursor else None
    docs = await remittances.page(scope, from_, to, after, limit + 1)
    page, more = docs[:limit], len(docs) > limit
    await record_access(
        audit, principal, source=SOURCE, action="remittance.search", resource="remittances", member_id=None,
        outcome=f"{len(page)} results", organization_id=scope,
    )
    return {"items": [public(doc, None) for doc in page],
            "next_cursor": _encode_cursor(page[-1]["paid_at"], page[-1]["_id"]) if more else None}
