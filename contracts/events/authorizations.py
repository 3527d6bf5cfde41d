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

Urgency = Literal["standard", "expedited"]


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


class AuthorizationStatusChanged(_Payload):
    """in_review, info_requested, cancelled, overdue: the status moved; nothing to use yet."""

    authorization_id: str
    member_id: str
    organization_id: str
    at: AwareDatetime
    note: str | None = None


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


class AuthorizationDenied(_Payload):
    authorization_id: str
    member_id: str
    organization_id: str
    reason_code: str
    denied_at: AwareDatetime


class AuthorizationExpired(_Payload):
    """An approved authorization past its end date; adjudication stops using it for later dates only
    (its window already says so), so this is informational for consumers."""

    authorization_id: str
    member_id: str
    organization_id: str
    expired_at: AwareDatetime


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
)
