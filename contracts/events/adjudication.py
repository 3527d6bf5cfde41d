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
from contracts.money import SignedMoney

CLAIM_ADJUDICATED = "claim.adjudicated"
ACCUMULATORS_APPLIED = "accumulators.applied"


class AdjudicationDecision(BaseModel):
    """Adjudication's decision on one version of a claim: per-line money and why, plus totals."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    adjudication_id: str
    """Deterministic per (claim, claim version): a replayed decision has the same id."""
    claim_id: str
    claim_version: int
    """Version of the claim event the decision was made on."""
    outcome: Literal["processed", "denied"]
    """denied when every line pays nothing because of a denial."""
    adjudicated_at: AwareDatetime
    lines: list[AdjudicatedLine]
    totals: Totals

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


CONTRACTS = (
    EventContract(CLAIM_ADJUDICATED, topics.ADJUDICATION, AdjudicationDecision,
                  "Adjudication priced a received claim; the claims service applies the decision."),
    EventContract(ACCUMULATORS_APPLIED, topics.ADJUDICATION, AccumulatorUpdate,
                  "A decision moved a member's deductible / out-of-pocket accumulators (signed deltas)."),
)
