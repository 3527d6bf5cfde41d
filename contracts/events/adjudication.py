"""adjudication.events: published by adjudication; keyed by member id.

The claims service applies claim.adjudicated to the claim; eligibility sums
accumulators.applied into its read copy. Both read them with these models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts import topics
from contracts.adjudicated import AdjudicatedLine, Totals
from contracts.contract import EventContract
from contracts.money import Money, SignedMoney

CLAIM_ADJUDICATED = "claim.adjudicated"
ACCUMULATORS_APPLIED = "accumulators.applied"
AUTHORIZATION_UNITS_USED = "authorization.units_used"
REMITTANCE_ISSUED = "remittance.issued"
CLAIM_PAYMENT_ISSUED = "claim.payment_issued"


class PendRequest(BaseModel):
    """Why a decision pends the claim (outcome info_requested): documentation is needed first."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    carc: str = "16"
    """16: claim lacks information needed for adjudication."""
    rarc: str
    """N350 (missing description of an unlisted service), M127 (missing medical record), ..."""
    line_numbers: list[int]
    message: str
    """Plain words for the provider, no patient data."""


class AdjudicationDecision(BaseModel):
    """Adjudication's decision on one version of a claim: per-line money and why, plus totals."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    adjudication_id: str
    """Deterministic per (claim, claim version): a replayed decision has the same id."""
    claim_id: str
    claim_version: int
    """Version of the claim event the decision was made on."""
    outcome: Literal["processed", "denied", "info_requested"]
    """denied when every line pays nothing because of a denial; info_requested when the
    claim pends for documentation (nothing is paid or counted until it is decided again)."""
    adjudicated_at: AwareDatetime
    lines: list[AdjudicatedLine]
    totals: Totals
    info_request: PendRequest | None = None
    """Set exactly when outcome is info_requested."""
    reverses_claim_id: str | None = None
    """A replacement (7) or void (8): the original whose accumulators and authorization
    units this decision gave back (in the same atomic write as its own)."""

    def to_data(self) -> dict[str, Any]:
        """The event payload: money as "125.00", instants RFC 3339."""
        return self.model_dump(mode="json", exclude_none=True)


class AccumulatorUpdate(BaseModel):
    """A decision's change to a member's deductible / out-of-pocket accumulators.

    Amounts are signed deltas as decimal strings ("125.00", "-125.00" for a
    reversal). adjudication_id identifies one decision and is the idempotency key:
    a re-adjudication or reversal carries a new adjudication_id. plan_year is the
    benefit year: the calendar year of the claim's date of service.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    member_id: str
    plan_id: str
    plan_year: int
    deductible_applied: SignedMoney
    out_of_pocket_applied: SignedMoney
    claim_id: str
    adjudication_id: str
    family_id: str | None = None
    """The family policy the member's accumulators also count towards (None: individual policy)."""


class AuthorizationUnitsUsed(BaseModel):
    """A decision used (positive) or gave back (negative, a reversal) units of an approved authorization.

    adjudication_id is the idempotency key, as for accumulators.applied.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    authorization_id: str
    member_id: str
    claim_id: str
    adjudication_id: str
    units: int


class RemittanceIssued(BaseModel):
    """A payment run issued one organisation's payment and remittance (835): ids and money, no patient data.

    Published by the payments process of adjudication once the remittance is stored;
    keyed by organisation. A restart may publish it again under the same event id.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    remittance_id: str
    payment_run_id: str
    organization_id: str
    eft_trace_number: str
    amount: Money
    paid_at: AwareDatetime
    claim_count: int
    provider_adjustments_total: SignedMoney


class ClaimPaymentIssued(BaseModel):
    """A remittance paid this processed claim; the claims service records it as claim.paid.

    Keyed by the claim's member id, like the decision it pays. amount is the claim's
    paid total as adjudicated (possibly 0.00: the payment run still settles it).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    claim_id: str
    remittance_id: str
    payment_run_id: str
    organization_id: str
    eft_trace_number: str
    paid_at: AwareDatetime
    amount: Money


CONTRACTS = (
    EventContract(CLAIM_ADJUDICATED, topics.ADJUDICATION, AdjudicationDecision,
                  "Adjudication priced a received claim; the claims service applies the decision."),
    EventContract(ACCUMULATORS_APPLIED, topics.ADJUDICATION, AccumulatorUpdate,
                  "A decision moved a member's deductible / out-of-pocket accumulators (signed deltas)."),
    EventContract(AUTHORIZATION_UNITS_USED, topics.ADJUDICATION, AuthorizationUnitsUsed,
                  "A decision used (or a reversal gave back) units of an approved authorization."),
    EventContract(REMITTANCE_ISSUED, topics.ADJUDICATION, RemittanceIssued,
                  "A payment run issued an organisation's payment and 835-style remittance."),
    EventContract(CLAIM_PAYMENT_ISSUED, topics.ADJUDICATION, ClaimPaymentIssued,
                  "A remittance paid a processed claim; the claims service records it as claim.paid."),
)
