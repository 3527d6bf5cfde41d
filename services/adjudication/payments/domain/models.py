"""Payables and remittances as data: pydantic, frozen, money as in contracts/money.py.

The remittance models have exactly the shape of API.md's GET /v1/remittances/{id}
(plus original_remittance_id on a reversal, which the 835 also carries as the
reference to the payment it reverses). Claim, line and adjustment amounts are
SignedMoney (a reversal is negative); the payment amount is Money (never negative).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts.money import Money, SignedMoney

StatusCode = Literal["1", "4", "22"]
"""835 CLP02: 1 processed as primary, 4 denied, 22 reversal of a previous payment."""
AdjustmentReason = Literal["WO", "FB", "L6"]
"""835 PLB03-1 as this platform uses it: WO the net withheld and carried forward,
FB a carried balance recovered, L6 interest owed to the provider (not produced yet)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClaimAdjustment(_Frozen):
    """CAS: a line's adjustment as adjudicated, negated on a reversal."""

    group: Literal["CO", "PR", "OA"]
    carc: str
    rarc: str | None = None
    amount: SignedMoney


class RemittanceLine(_Frozen):
    """SVC: one service line as adjudicated."""

    line_number: int
    procedure_code: str
    charge: SignedMoney
    allowed: SignedMoney
    paid: SignedMoney
    adjustments: tuple[ClaimAdjustment, ...] = ()


class Payee(_Frozen):
    """N1*PE: the provider organisation paid, by TIN, and its billing NPI."""

    tin: str
    npi: str


class Payable(_Frozen):
    """What a run may pay or take back for one claim: a projection of claims.events (ADR 15).

    kind "claim": a processed (status 1) or denied (status 4) claim, amounts as adjudicated.
    kind "reversal": a paid claim replaced or voided, status 22, every amount negated,
    original_remittance_id the remittance that paid it; at is when it was replaced or voided.
    """

    payable_id: str
    """The claim id, or "<claim id>:reversal"."""
    kind: Literal["claim", "reversal"]
    claim_id: str
    organization_id: str
    tin: str
    billing_npi: str
    status_code: StatusCode
    charge: SignedMoney
    allowed: SignedMoney
    paid: SignedMoney
    patient_responsibility: SignedMoney
    lines: tuple[RemittanceLine, ...]
    processed_at: AwareDatetime
    """When the claim was decided (claim.processed / claim.denied)."""
    received_at: AwareDatetime
    at: AwareDatetime
    """When it became payable: processed_at for a claim, the replacement or void for a reversal.
    A run takes the payables whose at is not after its cutoff."""
    original_remittance_id: str | None = None
    reversed_by_claim_id: str | None = None


class RemittanceClaim(_Frozen):
    """CLP: one claim paid, denied or reversed."""

    claim_id: str
    status_code: StatusCode
    charge: SignedMoney
    allowed: SignedMoney
    paid: SignedMoney
    patient_responsibility: SignedMoney
    lines: tuple[RemittanceLine, ...]
    original_remittance_id: str | None = None


class ProviderAdjustment(_Frozen):
    """PLB, signed so that payment amount = sum(claim paid) + sum(provider adjustments)."""

    reason: AdjustmentReason
    claim_id: str | None = None
    amount: SignedMoney


class Payment(_Frozen):
    """BPR + TRN: the money that moves."""

    method: Literal["ACH"] = "ACH"
    eft_trace_number: str
    amount: Money
    paid_at: AwareDatetime


class Remittance(_Frozen):
    remittance_id: str
    payment_run_id: str
    organization_id: str
    payee: Payee
    payment: Payment
    claims: tuple[RemittanceClaim, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...]

    def claims_paid(self) -> Decimal:
        return sum((claim.paid for claim in self.claims), Decimal("0.00"))

    def adjustments_total(self) -> Decimal:
        return sum((adjustment.amount for adjustment in self.provider_adjustments), Decimal("0.00"))


__all__ = ["AdjustmentReason", "ClaimAdjustment", "Payable", "Payee", "Payment", "ProviderAdjustment",
           "Remittance", "RemittanceClaim", "RemittanceLine", "StatusCode"]
