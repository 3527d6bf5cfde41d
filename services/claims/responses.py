"""Response bodies of the claims routes (API.md names), as OpenAPI documents them."""

from typing import Literal

from pydantic import BaseModel, Field

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
    explanation: list[str] = Field(
        default=[], description="The pricing and benefit steps in plain words (fee schedule amount, network, "
        "deductible, copay, coinsurance, out-of-pocket cap, authorization used); no patient data.",
    )
    authorization_id: str | None = Field(
        default=None, description="The approved prior authorization whose units this line used."
    )


class ClaimTotals(BaseModel):
    charge: str
    allowed: str | None
    paid: str | None
    patient_responsibility: str | None


class TimelineEntry(BaseModel):
    status: ClaimStatus
    at: str
    reason_codes: list[str] | None = Field(
        default=None, description='"GROUP-CARC" of the decision\'s adjustments (e.g. "CO-45"); for '
        'info_requested "CO-16" and the RARC (e.g. ["CO-16", "N350"]).',
    )
    by_claim_id: str | None = Field(default=None, description="The replacement or void claim that closed this one.")
    info_request_id: str | None = Field(
        default=None, description="The info request that was opened (info_requested) or answered (received)."
    )


class Payment(BaseModel):
    remittance_id: str
    eft_trace_number: str
    paid_at: str
    amount: str
    days_to_payment: int | None = Field(
        default=None, description="Calendar days from receipt to payment (prompt-pay laws: commonly 30 for "
        "clean electronic claims, 15 in some states).",
    )


class InfoRequestView(BaseModel):
    info_request_id: str
    requested_at: str
    due_by: str = Field(description="Date (YYYY-MM-DD); unanswered after it, the request is expired.")
    carc: str = Field(description='Always "16": claim lacks information needed for adjudication.')
    rarc: str = Field(description="What is missing, e.g. N350 (description of service), M127 (medical record).")
    message: str = Field(description="Plain words for the provider.")
    status: Literal["open", "answered", "expired"]
    requested_by: Literal["adjudication", "operator"] | None = None
    line_numbers: list[int] = Field(default=[], description="The lines the request is about; empty: the claim.")
    answered_at: str | None = None
    message_id: str | None = None
    attachment_ids: list[str] | None = Field(
        default=None, description="The attachments named by the answer (not yet checked to exist)."
    )


class InfoRequestReceipt(InfoRequestView):
    """The info request as created or answered (POST .../info-requests, .../responses)."""

    claim_id: str


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
    info_requests: list[InfoRequestView]


class ClaimSearchPage(BaseModel):
    items: list[ClaimView]
    next_cursor: str | None
