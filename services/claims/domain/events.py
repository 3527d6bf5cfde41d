"""The claim's events: what happened to a claim, in the past tense.

Payloads are pydantic models; events carry them as JSON-ready dicts (money as
"125.00", dates ISO 8601) so that a stored or published event reads back into
exactly the same state. Payload models ignore unknown fields: adding a field is
not a breaking change, and old code can read newer events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts.adjudicated import AdjudicatedLine, Adjustment, Totals  # noqa: F401 - re-exported
from contracts.money import Money
from .submission import FrequencyCode

CLAIM_RECEIVED = "claim.received"
CLAIM_PROCESSED = "claim.processed"
CLAIM_DENIED = "claim.denied"
CLAIM_PAID = "claim.paid"
CLAIM_VOIDED = "claim.voided"
CLAIM_REPLACED = "claim.replaced"


@dataclass(frozen=True)
class ClaimEvent:
    """One event of a claim's stream; the adapter wraps it in a CloudEvent."""

    type: str
    claim_id: str
    version: int
    """Position in the claim's stream, from 1; the store's (stream, version) key."""
    data: Mapping[str, Any] = field(default_factory=dict)


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    def to_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


# ------------------------------------------------------------ claim.received


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


# ------------------------------------------------ claim.processed / .denied

class AdjudicationDecision(Payload):
    """Adjudication's decision on one claim, as published on adjudication.events.

    The claims service reads it with this model rather than importing the
    adjudication service's code: the two meet only in the event.
    """

    adjudication_id: str
    claim_id: str
    claim_version: int | None = None
    """Version of the claim event the decision was made on."""
    outcome: Literal["processed", "denied"]
    adjudicated_at: AwareDatetime
    lines: list[AdjudicatedLine]
    totals: Totals


class ClaimAdjudicated(Payload):
    """Payload of both claim.processed and claim.denied."""

    claim_id: str
    adjudication_id: str
    adjudicated_at: AwareDatetime
    lines: list[AdjudicatedLine]
    totals: Totals
    reason_codes: list[str] = []
    """Distinct "GROUP-CARC" codes of the adjustments, e.g. ["CO-45"], for the timeline."""


# ------------------------------------------------------------ claim.paid


class ClaimPaid(Payload):
    claim_id: str
    remittance_id: str
    eft_trace_number: str
    paid_at: AwareDatetime
    amount: Money


# ------------------------------------------------- claim.voided / .replaced


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
