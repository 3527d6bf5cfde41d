"""authorizations.events: published by the authorizations service; keyed by member id.

Adjudication keeps its own copy of approved authorizations from these events to
decide prior-authorization rules; notifications and analytics read the same models.
Payloads hold ids, codes, units and dates, never clinical notes. Every payload
carries the fields a consumer needs to act on it alone (no look-ups elsewhere).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts import topics
from contracts.contract import EventContract

AUTHORIZATION_SUBMITTED = "authorization.submitted"
AUTHORIZATION_IN_REVIEW = "authorization.in_review"
AUTHORIZATION_INFO_REQUESTED = "authorization.info_requested"
AUTHORIZATION_APPROVED = "authorization.approved"
AUTHORIZATION_DENIED = "authorization.denied"
AUTHORIZATION_CANCELLED = "authorization.cancelled"
AUTHORIZATION_EXPIRED = "authorization.expired"
AUTHORIZATION_OVERDUE = "authorization.overdue"
AUTHORIZATION_INFO_REQUEST_ANSWERED = "authorization.info_request_answered"
AUTHORIZATION_MESSAGE_POSTED = "authorization.message_posted"
AUTHORIZATION_UNITS_RECORDED = "authorization.units_recorded"

Urgency = Literal["standard", "expedited"]
DecidedBy = Literal["reviewer", "operator", "system"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    def to_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class AuthorizationSubmitted(_Payload):
    authorization_id: str
    member_id: str
    organization_id: str
    requesting_provider_npi: str
    urgency: Urgency
    procedure_codes: list[str]
    diagnosis_codes: list[str]
    requested_units: int
    start_date: date
    end_date: date
    submitted_at: AwareDatetime
    decision_due_at: AwareDatetime
    plan_id: str | None = None
    """The member's plan on start_date (whose prior_authorization_codes were applied)."""
    line_of_business: str | None = None
    """Whose decision clock applies (refdata/decision_clocks.json)."""
    codes_requiring_authorization: list[str] = []
    """The requested codes the plan requires authorization for; none: approved at once."""


class AuthorizationStatusChanged(_Payload):
    """in_review, info_requested, cancelled, overdue: the status moved; nothing to use yet."""

    authorization_id: str
    member_id: str
    organization_id: str
    at: AwareDatetime
    note: str | None = None
    """A fixed, PHI-free system note only (never a person's free text)."""
    by_role: str | None = None
    """Who moved it (reviewer, operator, provider, system)."""
    info_request_id: str | None = None
    """info_requested: the request opened."""
    message_id: str | None = None
    """info_requested: the reviewer's message in the authorization's thread (its text is not here)."""


class AuthorizationApproved(_Payload):
    """Usable by adjudication: same member, code and organisation, date window, up to approved_units."""

    authorization_id: str
    member_id: str
    organization_id: str
    procedure_codes: list[str]
    approved_units: int
    start_date: date
    end_date: date
    """Inclusive."""
    approved_at: AwareDatetime
    urgency: Urgency = "standard"
    rule: str | None = None
    """The auto-approval rule that approved it, if no person did."""
    decided_by_role: DecidedBy | None = None
    requested_units: int | None = None
    note_message_id: str | None = None
    """The reviewer's note in the authorization's thread (free text stays off the topic)."""


class AuthorizationDenied(_Payload):
    authorization_id: str
    member_id: str
    organization_id: str
    reason_code: str
    denied_at: AwareDatetime
    procedure_codes: list[str] = []
    decided_by_role: DecidedBy | None = None
    note_message_id: str | None = None


class AuthorizationExpired(_Payload):
    """An approved authorization past its end date; adjudication stops using it for later dates only
    (its window already says so), so this is informational for consumers."""

    authorization_id: str
    member_id: str
    organization_id: str
    expired_at: AwareDatetime


class AuthorizationInfoRequestAnswered(_Payload):
    """The provider answered a reviewer's request (a message and/or attachments): back to review."""

    authorization_id: str
    member_id: str
    organization_id: str
    info_request_id: str
    answered_at: AwareDatetime
    message_id: str | None = None
    attachment_ids: list[str] = []


class AuthorizationMessagePosted(_Payload):
    """A message on the authorization's thread: ids only, never the text."""

    authorization_id: str
    member_id: str
    organization_id: str
    message_id: str
    author_party: Literal["provider", "payer"]
    author_role: str
    posted_at: AwareDatetime
    attachment_ids: list[str] = []


class AuthorizationUnitsRecorded(_Payload):
    """Adjudication's authorization.units_used, recorded once on the authorization (dedupe by adjudication_id)."""

    authorization_id: str
    member_id: str
    organization_id: str
    adjudication_id: str
    claim_id: str
    units: int
    """Positive: used; negative: given back (a reversal)."""
    used_units: int
    """The total after this record."""
    recorded_at: AwareDatetime


CONTRACTS = (
    EventContract(AUTHORIZATION_SUBMITTED, topics.AUTHORIZATIONS, AuthorizationSubmitted,
                  "A provider requested prior authorization."),
    EventContract(AUTHORIZATION_IN_REVIEW, topics.AUTHORIZATIONS, AuthorizationStatusChanged,
                  "A reviewer took the request."),
    EventContract(AUTHORIZATION_INFO_REQUESTED, topics.AUTHORIZATIONS, AuthorizationStatusChanged,
                  "A reviewer asked the provider for more information."),
    EventContract(AUTHORIZATION_APPROVED, topics.AUTHORIZATIONS, AuthorizationApproved,
                  "The request was approved for these codes, units and dates."),
    EventContract(AUTHORIZATION_DENIED, topics.AUTHORIZATIONS, AuthorizationDenied,
                  "The request was denied with a reason."),
    EventContract(AUTHORIZATION_CANCELLED, topics.AUTHORIZATIONS, AuthorizationStatusChanged,
                  "The requesting provider cancelled a pending request."),
    EventContract(AUTHORIZATION_EXPIRED, topics.AUTHORIZATIONS, AuthorizationExpired,
                  "An approved authorization passed its end date."),
    EventContract(AUTHORIZATION_OVERDUE, topics.AUTHORIZATIONS, AuthorizationStatusChanged,
                  "The request is undecided past its decision clock."),
    EventContract(AUTHORIZATION_INFO_REQUEST_ANSWERED, topics.AUTHORIZATIONS, AuthorizationInfoRequestAnswered,
                  "The provider answered an info request; the request is back in review."),
    EventContract(AUTHORIZATION_MESSAGE_POSTED, topics.AUTHORIZATIONS, AuthorizationMessagePosted,
                  "A message was posted on the authorization's thread (ids only)."),
    EventContract(AUTHORIZATION_UNITS_RECORDED, topics.AUTHORIZATIONS, AuthorizationUnitsRecorded,
                  "Units a claim used (or gave back) were recorded on the authorization."),
)

EVENT_TYPES = tuple(contract.type for contract in CONTRACTS)
"""Every type of an authorization's stream: a consumer keeping a per-version copy subscribes to all
(a type it skipped would look like a gap in the stream's versions)."""
