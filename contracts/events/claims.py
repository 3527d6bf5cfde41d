"""claims.events: published by claims; keyed by member id so one member's claims stay in order.

The payload models live here, not in the claims service: every consumer (adjudication,
notifications, analytics) reads them with these models and never imports claims code.
Payloads carry JSON-ready values (money as "125.00", dates ISO 8601) and ignore
unknown fields, so adding a field is not a breaking change.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts import topics
from contracts.adjudicated import AdjudicatedLine, Totals
from contracts.contract import EventContract
from contracts.money import Money

CLAIM_RECEIVED = "claim.received"
CLAIM_PROCESSED = "claim.processed"
CLAIM_DENIED = "claim.denied"
CLAIM_PAID = "claim.paid"
CLAIM_VOIDED = "claim.voided"
CLAIM_REPLACED = "claim.replaced"
CLAIM_CLOSURE_RESERVED = "claim.closure_reserved"
CLAIM_INFO_REQUESTED = "claim.info_requested"
CLAIM_INFO_REQUEST_ANSWERED = "claim.info_request_answered"

FrequencyCode = Literal["1", "7", "8"]
"""X12 claim frequency: 1 original, 7 replacement of a prior claim, 8 void of a prior claim."""


class ClaimStatus(StrEnum):
    """A claim's status as the API shows it (API.md); the one list of them."""

    RECEIVED = "received"
    PROCESSED = "processed"
    PAID = "paid"
    DENIED = "denied"
    INFO_REQUESTED = "info_requested"
    VOIDED = "voided"
    REPLACED = "replaced"


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    def to_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class BillingProvider(Payload):
    npi: str
    tin: str


class ReceivedLine(Payload):
    line_number: int
    """1-based, in submission order; decisions and remittances refer to lines by it."""
    procedure_code: str
    modifiers: list[str] = []
    units: int
    charge_amount: Money
    date_of_service: date
    place_of_service: str
    diagnosis_pointers: list[int]


class ClaimReceived(Payload):
    """Everything submitted (codes normalised) plus what intake added."""

    claim_id: str
    organization_id: str
    received_at: AwareDatetime
    total_charge: Money
    fingerprint: str
    frequency_code: FrequencyCode
    original_claim_id: str | None = None
    member_id: str
    patient_date_of_birth: date
    billing_provider: BillingProvider
    rendering_provider_npi: str
    diagnosis_codes: list[str]
    """Dotted ICD-10-CM codes, in submission order (pointers index into it)."""
    prior_authorization_id: str | None = None
    lines: list[ReceivedLine]


class ClaimAdjudicated(Payload):
    """Payload of both claim.processed and claim.denied."""

    claim_id: str
    adjudication_id: str
    adjudicated_at: AwareDatetime
    lines: list[AdjudicatedLine]
    totals: Totals
    reason_codes: list[str] = []
    """Distinct "GROUP-CARC" codes of the adjustments, e.g. ["CO-45"], for the timeline."""
    organization_id: str | None = None
    """The claim's own facts again (from claim.received), so that a payment run can pay the
    decision from this one event; absent on events written before they were added."""
    member_id: str | None = None
    billing_provider: BillingProvider | None = None
    received_at: AwareDatetime | None = None


class ClaimPaid(Payload):
    claim_id: str
    remittance_id: str
    eft_trace_number: str
    paid_at: AwareDatetime
    amount: Money


class ClaimVoided(Payload):
    claim_id: str
    voided_by_claim_id: str
    """The accepted frequency-8 claim that voided this one."""
    voided_at: AwareDatetime


class ClaimReplaced(Payload):
    claim_id: str
    replaced_by_claim_id: str
    """The accepted frequency-7 claim that replaces this one."""
    replaced_at: AwareDatetime


class ClaimClosureReserved(Payload):
    """A replacement (7) or void (8) claim has claimed this claim before being stored.

    The first step of a correction: the original is reserved at its expected version,
    so of two concurrent corrections exactly one wins; then the new claim is stored,
    then claim.replaced / claim.voided closes this one. The claim stays what it was
    (and payable) until that last event; a replay of the correction's request
    finishes whichever step is missing.
    """

    claim_id: str
    by_claim_id: str
    """The replacement or void claim that will close this one."""
    frequency_code: Literal["7", "8"]
    reserved_at: AwareDatetime


class ClaimInfoRequested(Payload):
    """The claim waits for documentation: adjudication pended it (CARC 16) or an operator asked."""

    claim_id: str
    info_request_id: str
    requested_at: AwareDatetime
    due_by: date
    carc: str
    rarc: str
    message: str
    """Plain words for the provider, no patient data."""
    requested_by: Literal["adjudication", "operator"]
    adjudication_id: str | None = None
    """The pending decision, when adjudication asked."""
    line_numbers: list[int] = []


class ClaimInfoRequestAnswered(Payload):
    """The provider answered an info request; adjudication decides the claim again on this version."""

    claim_id: str
    info_request_id: str
    answered_at: AwareDatetime
    message_id: str | None = None
    attachment_ids: list[str] = []


CONTRACTS = (
    EventContract(CLAIM_RECEIVED, topics.CLAIMS, ClaimReceived, "A claim passed the intake edits and was accepted."),
    EventContract(CLAIM_PROCESSED, topics.CLAIMS, ClaimAdjudicated, "Adjudication's decision was applied; something is payable."),
    EventContract(CLAIM_DENIED, topics.CLAIMS, ClaimAdjudicated, "Adjudication denied every line of the claim."),
    EventContract(CLAIM_PAID, topics.CLAIMS, ClaimPaid, "The payment run paid the claim."),
    EventContract(CLAIM_VOIDED, topics.CLAIMS, ClaimVoided, "A void claim (frequency 8) cancelled this claim."),
    EventContract(CLAIM_REPLACED, topics.CLAIMS, ClaimReplaced, "A replacement claim (frequency 7) superseded this claim."),
    EventContract(CLAIM_CLOSURE_RESERVED, topics.CLAIMS, ClaimClosureReserved,
                  "A replacement (7) or void (8) claim reserved this claim; it closes it once stored."),
    EventContract(CLAIM_INFO_REQUESTED, topics.CLAIMS, ClaimInfoRequested,
                  "The claim waits for documentation (CARC 16 with a RARC)."),
    EventContract(CLAIM_INFO_REQUEST_ANSWERED, topics.CLAIMS, ClaimInfoRequestAnswered,
                  "The provider answered an info request; the claim goes back to adjudication."),
)

EVENT_TYPES = tuple(c.type for c in CONTRACTS)
