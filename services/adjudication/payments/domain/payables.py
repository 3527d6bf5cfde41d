"""Payables from the claim's events: a claim as adjudicated, and the reversal of a paid claim.

claim_payable reads claim.received (organisation, TIN, billing NPI, receipt) and the
decision's claim.processed / claim.denied payload (money and lines exactly as
adjudicated). reversal_payable takes back a claim an earlier remittance paid, when
a replacement (frequency 7) or void (8) closed it: the same claim and lines with
every amount negated, status code 22, referencing the remittance that paid it.
A replacement or void of a claim not yet paid is no reversal: the process withdraws
the original payable instead (ADR 15).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from contracts.adjudicated import AdjudicatedLine
from contracts.events.claims import ClaimAdjudicated, ClaimReceived
from services.adjudication.payments.domain.models import ClaimAdjustment, Payable, RemittanceLine

REVERSAL_SUFFIX = ":reversal"
ZERO = Decimal("0.00")


def _line(line: AdjudicatedLine) -> RemittanceLine:
    return RemittanceLine(
        line_number=line.line_number,
        procedure_code=line.procedure_code,
        charge=line.charge_amount,
        allowed=line.allowed_amount,
        paid=line.paid_amount,
        adjustments=tuple(ClaimAdjustment(group=a.group, carc=a.carc, rarc=a.rarc, amount=a.amount)
                          for a in line.adjustments),
    )


def claim_payable(received: ClaimReceived, decided: ClaimAdjudicated,
                  outcome: Literal["processed", "denied"]) -> Payable:
    """The payable of a decided claim: status 1 when processed, 4 when denied (it pays 0)."""
    if received.claim_id != decided.claim_id:
        raise ValueError("the decision is not this claim's")
    totals = decided.totals
    if outcome == "denied" and totals.paid != 0:
        raise ValueError("a denied claim pays nothing")
    return Payable(
        payable_id=received.claim_id,
        kind="claim",
        claim_id=received.claim_id,
        organization_id=received.organization_id,
        tin=received.billing_provider.tin,
        billing_npi=received.billing_provider.npi,
        status_code="1" if outcome == "processed" else "4",
        charge=totals.charge,
        allowed=totals.allowed,
        paid=totals.paid,
        patient_responsibility=totals.patient_responsibility,
        lines=tuple(_line(line) for line in sorted(decided.lines, key=lambda line: line.line_number)),
        processed_at=decided.adjudicated_at,
        received_at=received.received_at,
        at=decided.adjudicated_at,
    )


def decision_payable(decided: ClaimAdjudicated, outcome: Literal["processed", "denied"]) -> Payable:
    """The payable of a decided claim from its claim.processed / claim.denied event alone.

    The event carries the claim's organisation, billing provider and receipt (claims
    adds them to every decision it applies), so the payments process keeps no copy of
    claim.received; an event without them is refused (ValueError: poison).
    """
    if decided.organization_id is None or decided.billing_provider is None or decided.received_at is None:
        raise ValueError("the decision event lacks the claim's organisation, billing provider or receipt")
    received = ClaimReceived.model_construct(
        claim_id=decided.claim_id, organization_id=decided.organization_id,
        billing_provider=decided.billing_provider, received_at=decided.received_at,
    )
    return claim_payable(received, decided, outcome)


def _neg(amount: Decimal) -> Decimal:
    return -amount if amount else ZERO  # never "-0.00"


def _negated(line: RemittanceLine) -> RemittanceLine:
    return line.model_copy(update={
        "charge": _neg(line.charge), "allowed": _neg(line.allowed), "paid": _neg(line.paid),
        "adjustments": tuple(a.model_copy(update={"amount": _neg(a.amount)}) for a in line.adjustments),
    })


def reversal_payable(original: Payable, *, original_remittance_id: str, reversed_by_claim_id: str,
                     reversed_at: datetime) -> Payable:
    """Take back a claim a remittance paid (status 1): status 22, every amount negated."""
    if original.kind != "claim" or original.status_code != "1":
        raise ValueError("only a paid claim (status 1) is reversed")
    return Payable.model_validate({
        **dict(original),
        "payable_id": original.claim_id + REVERSAL_SUFFIX,
        "kind": "reversal",
        "status_code": "22",
        "charge": _neg(original.charge),
        "allowed": _neg(original.allowed),
        "paid": _neg(original.paid),
        "patient_responsibility": _neg(original.patient_responsibility),
        "lines": tuple(_negated(line) for line in original.lines),
        "at": reversed_at,
        "original_remittance_id": original_remittance_id,
        "reversed_by_claim_id": reversed_by_claim_id,
    })
