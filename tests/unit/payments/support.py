"""Builders of payables through the real event payloads (claim.received + claim.processed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from contracts.events.claims import ClaimAdjudicated, ClaimReceived
from services.adjudication.payments.domain import Payable, claim_payable, reversal_payable

T0 = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
PAYER_ID = "990000001"
TINS = {"ORG-A": "111111111", "ORG-B": "222222222", "ORG-C": "333333333"}
NPIS = {"ORG-A": "1234567893", "ORG-B": "1111111112", "ORG-C": "1999999984"}


def received(claim_id: str, organization_id: str, charge: str, at: datetime) -> ClaimReceived:
    return ClaimReceived.model_validate({
        "claim_id": claim_id, "organization_id": organization_id, "received_at": at.isoformat(),
        "total_charge": charge, "fingerprint": "f", "frequency_code": "1", "member_id": "M0000000001",
        "patient_date_of_birth": "1980-02-03",
        "billing_provider": {"npi": NPIS[organization_id], "tin": TINS[organization_id]},
        "rendering_provider_npi": NPIS[organization_id], "diagnosis_codes": ["J06.9"],
        "lines": [{"line_number": 1, "procedure_code": "99213", "units": 1, "charge_amount": charge,
                   "date_of_service": "2026-06-01", "place_of_service": "11", "diagnosis_pointers": [1]}],
    })


def decided(claim_id: str, charge: str, paid: str, at: datetime) -> ClaimAdjudicated:
    charge_d, paid_d = Decimal(charge), Decimal(paid)
    patient = min(Decimal("20.00"), charge_d - paid_d)
    allowed = paid_d + patient
    contractual = charge_d - allowed
    adjustments = []
    if contractual:
        adjustments.append({"group": "CO", "carc": "45" if paid_d else "204", "amount": str(contractual)})
    if patient:
        adjustments.append({"group": "PR", "carc": "3", "amount": str(patient)})
    line = {"line_number": 1, "procedure_code": "99213", "charge_amount": charge, "allowed_amount": str(allowed),
            "deductible": "0.00", "copay": str(patient), "coinsurance": "0.00", "paid_amount": paid,
            "patient_responsibility": str(patient), "adjustments": adjustments}
    return ClaimAdjudicated.model_validate({
        "claim_id": claim_id, "adjudication_id": f"adj-{claim_id}", "adjudicated_at": at.isoformat(),
        "lines": [line],
        "totals": {"charge": charge, "allowed": str(allowed), "paid": paid, "patient_responsibility": str(patient)},
    })


def payable(claim_id: str, organization_id: str, paid: str, *, charge: str | None = None,
            at: datetime = T0, denied: bool = False) -> Payable:
    charge = charge or str(Decimal(paid) + Decimal("50.00"))
    return claim_payable(received(claim_id, organization_id, charge, at - timedelta(days=3)),
                         decided(claim_id, charge, "0.00" if denied else paid, at),
                         "denied" if denied else "processed")


def reversal(claim_id: str, organization_id: str, paid: str, *, remittance_id: str = "R-0",
             at: datetime = T0) -> Payable:
    original = payable(claim_id, organization_id, paid, at=at - timedelta(days=10))
    return reversal_payable(original, original_remittance_id=remittance_id,
                            reversed_by_claim_id=claim_id + "-R", reversed_at=at)
