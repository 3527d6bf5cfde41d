"""Response bodies of the authorization routes (API.md names), as OpenAPI documents them."""

from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["submitted", "in_review", "info_requested", "approved", "denied", "cancelled", "expired"]


class Requirement(BaseModel):
    procedure_code: str
    authorization_required: bool = Field(description="Whether the member's plan requires prior authorization "
                                         "for the code; a request for none of them is approved at once.")


class ReceiptDecision(BaseModel):
    decision: str
    decided_by_role: str
    rule: str | None = None
    note: str | None = None


class AuthorizationReceipt(BaseModel):
    authorization_id: str
    status: Status = Field(description="submitted; approved when no code needs authorization or a rule approved it.")
    submitted_at: str
    decision_due_at: str = Field(description="72 hours after submission (expedited), 7 calendar days (standard), "
                                 "by the member's line of business (CMS-0057-F).")
    requirements: list[Requirement]
    decision: ReceiptDecision | None = None


class DecisionView(BaseModel):
    decision: Literal["approved", "denied"]
    reason_code: str | None = None
    note: str | None = None
    decided_by_role: Literal["reviewer", "operator", "system"]
    rule: str | None = Field(default=None, description="The auto-approval rule that approved it (system).")
    approved_units: int | None = None
    start_date: str | None = None
    end_date: str | None = None


class TimelineEntry(BaseModel):
    status: Status
    at: str


class InfoRequestView(BaseModel):
    info_request_id: str
    requested_at: str
    message: str | None = None
    message_id: str | None = None
    status: Literal["open", "answered"]
    answered_at: str | None = None
    answer_message_id: str | None = None
    attachment_ids: list[str] = []


class AuthorizationView(BaseModel):
    authorization_id: str
    status: Status
    member_id: str
    requesting_provider_npi: str
    urgency: Literal["standard", "expedited"]
    procedure_codes: list[str]
    diagnosis_codes: list[str]
    codes_requiring_authorization: list[str]
    requested_units: int
    approved_units: int | None = None
    used_units: int
    start_date: str
    end_date: str
    submitted_at: str
    decision_due_at: str
    decided_at: str | None = None
    overdue: bool
    decision: DecisionView | None = None
    timeline: list[TimelineEntry]
    info_requests: list[InfoRequestView]
    clinical_notes: str | None = None


class AuthorizationSummary(BaseModel):
    authorization_id: str
    status: Status
    member_id: str
    urgency: Literal["standard", "expedited"]
    procedure_codes: list[str]
    requested_units: int
    approved_units: int | None = None
    start_date: str
    end_date: str
    submitted_at: str
    decision_due_at: str
    overdue: bool


class AuthorizationPage(BaseModel):
    items: list[AuthorizationSummary]
    next_cursor: str | None
