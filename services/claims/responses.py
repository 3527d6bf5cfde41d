"""Response bodies of the claims routes (API.md names), as OpenAPI documents them."""

from typing import Literal

from pydantic import BaseModel

from contracts.events.claims import ClaimStatus, FrequencyCode


class ClaimReceipt(BaseModel):
    claim_id: str
    status: Literal["received"] = "received"
    received_at: str
    total_charge: str


class ProblemItem(BaseModel):
    loc: str
    code: str
    message: str


class ValidationResult(BaseModel):
    valid: bool
    errors: list[ProblemItem]


class LineAdjustment(BaseModel):
    group: Literal["CO", "PR", "OA"]
    carc: str
    rarc: str | None = None
    amount: str


class ClaimLineView(BaseModel):
    line_number: int
    procedure_code: str
    charge_amount: str
    allowed_amount: str | None
    deductible: str | None
    copay: str | None
    coinsurance: str | None
    paid_amount: str | None
    patient_responsibility: str | None
    adjustments: list[LineAdjustment]


class ClaimTotals(BaseModel):
    charge: str
    allowed: str | None
    paid: str | None
    patient_responsibility: str | None


class TimelineEntry(BaseModel):
    status: ClaimStatus
    at: str
    reason_codes: list[str] | None = None
    by_claim_id: str | None = None


class Payment(BaseModel):
    remittance_id: str
    eft_trace_number: str
    paid_at: str
    amount: str


class ClaimView(BaseModel):
    claim_id: str
    status: ClaimStatus
    received_at: str
    member_id: str
    frequency_code: FrequencyCode
    original_claim_id: str | None
    lines: list[ClaimLineView]
    totals: ClaimTotals
    timeline: list[TimelineEntry]
    payment: Payment | None
    info_requests: list[dict]


class ClaimSearchPage(BaseModel):
    items: list[ClaimView]
    next_cursor: str | None
