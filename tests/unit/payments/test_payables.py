"""A claim's payable is the claim as adjudicated; its reversal negates every amount (status 22)."""

from decimal import Decimal

import pytest

from services.adjudication.payments.domain import reversal_payable
from tests.unit.payments.support import NPIS, T0, TINS, payable, reversal


def test_a_processed_claim_is_payable_as_adjudicated():
    p = payable("C-1", "ORG-A", "80.00", charge="150.00")
    assert (p.payable_id, p.kind, p.status_code) == ("C-1", "claim", "1")
    assert (p.organization_id, p.tin, p.billing_npi) == ("ORG-A", TINS["ORG-A"], NPIS["ORG-A"])
    assert (p.charge, p.allowed, p.paid, p.patient_responsibility) == (
        Decimal("150.00"), Decimal("100.00"), Decimal("80.00"), Decimal("20.00"))
    assert p.processed_at == p.at == T0 and p.received_at < T0
    [line] = p.lines
    assert [(a.group, a.carc, a.amount) for a in line.adjustments] == [
        ("CO", "45", Decimal("50.00")), ("PR", "3", Decimal("20.00"))]
    # the line balances as adjudicated: charge = paid + adjustments
    assert line.charge == line.paid + sum(a.amount for a in line.adjustments)


def test_a_denied_claim_is_listed_with_status_4_and_pays_nothing():
    p = payable("C-2", "ORG-A", "0.00", charge="120.00", denied=True)
    assert (p.status_code, p.paid) == ("4", Decimal("0.00"))


def test_a_reversal_negates_every_amount_and_names_the_remittance_that_paid():
    r = reversal("C-3", "ORG-B", "80.00", remittance_id="R-7")
    assert (r.payable_id, r.kind, r.status_code, r.claim_id) == ("C-3:reversal", "reversal", "22", "C-3")
    assert (r.charge, r.allowed, r.paid, r.patient_responsibility) == (
        Decimal("-130.00"), Decimal("-100.00"), Decimal("-80.00"), Decimal("-20.00"))
    assert r.original_remittance_id == "R-7" and r.reversed_by_claim_id == "C-3-R" and r.at == T0
    [line] = r.lines
    assert line.paid == Decimal("-80.00") and all(a.amount < 0 for a in line.adjustments)
    assert line.charge == line.paid + sum(a.amount for a in line.adjustments)
    # no "-0.00" anywhere in the JSON
    assert "-0.00" not in r.model_dump_json()


def test_only_a_paid_claim_is_reversed():
    denied = payable("C-4", "ORG-A", "0.00", denied=True)
    with pytest.raises(ValueError):
        reversal_payable(denied, original_remittance_id="R", reversed_by_claim_id="X", reversed_at=T0)
    with pytest.raises(ValueError):
        reversal_payable(reversal("C-5", "ORG-A", "10.00"), original_remittance_id="R",
                         reversed_by_claim_id="X", reversed_at=T0)
