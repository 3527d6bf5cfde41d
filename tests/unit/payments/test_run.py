"""Payment runs: one remittance per organisation, reversals netted, WO when negative, FB when recovered."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.adjudication.payments.domain import build_run, plan_run, remittance_id
from tests.unit.payments.support import NPIS, PAYER_ID, T0, TINS, payable, reversal

D = Decimal
CUTOFF = T0 + timedelta(hours=1)
PAID_AT = T0 + timedelta(hours=2)


def run(run_id, payables, balances=None, first_sequence=1):
    return build_run(run_id, payables, balances or {}, cutoff=CUTOFF, paid_at=PAID_AT, payer_id=PAYER_ID,
                     first_sequence=first_sequence)


def balanced(remittance):
    return remittance.payment.amount == remittance.claims_paid() + remittance.adjustments_total()


def test_two_organisations_each_get_exactly_their_claims():
    result = run("run-1", [payable("A1", "ORG-A", "80.00"), payable("B1", "ORG-B", "40.00"),
                           payable("A2", "ORG-A", "15.50"), payable("A3", "ORG-A", "0.00", denied=True)])
    a, b = result.remittances
    assert (a.organization_id, b.organization_id) == ("ORG-A", "ORG-B")
    assert [(c.claim_id, c.status_code) for c in a.claims] == [("A1", "1"), ("A2", "1"), ("A3", "4")]
    assert [c.claim_id for c in b.claims] == ["B1"]
    assert (a.payment.amount, b.payment.amount) == (D("95.50"), D("40.00"))
    assert a.provider_adjustments == b.provider_adjustments == ()
    assert a.payee.model_dump() == {"tin": TINS["ORG-A"], "npi": NPIS["ORG-A"]}
    assert a.remittance_id == remittance_id("run-1", "ORG-A") == str(uuid.UUID(a.remittance_id))
    assert a.remittance_id != b.remittance_id != remittance_id("run-2", "ORG-B")
    assert (a.payment.eft_trace_number, b.payment.eft_trace_number) == (
        f"1{PAYER_ID}0000000001", f"1{PAYER_ID}0000000002")
    assert all(balanced(r) for r in result.remittances)
    assert dict(result.balances) == {"ORG-A": D("0.00"), "ORG-B": D("0.00")}


def test_the_remittance_has_api_md_shape():
    [remittance] = run("run-1", [payable("A1", "ORG-A", "80.00", charge="150.00")]).remittances
    body = remittance.model_dump(mode="json", exclude_none=True)
    assert set(body) == {"remittance_id", "payment_run_id", "organization_id", "payee", "payment", "claims",
                         "provider_adjustments"}
    assert body["payment"] == {"method": "ACH", "eft_trace_number": f"1{PAYER_ID}0000000001", "amount": "80.00",
                               "paid_at": "2026-06-10T14:00:00Z"}
    assert body["claims"] == [{
        "claim_id": "A1", "status_code": "1", "charge": "150.00", "allowed": "100.00", "paid": "80.00",
        "patient_responsibility": "20.00",
        "lines": [{"line_number": 1, "procedure_code": "99213", "charge": "150.00", "allowed": "100.00",
                   "paid": "80.00", "adjustments": [{"group": "CO", "carc": "45", "amount": "50.00"},
                                                    {"group": "PR", "carc": "3", "amount": "20.00"}]}],
    }]


def test_a_reversal_bigger_than_the_new_payments_pays_zero_with_wo_then_fb_recovers_it():
    first = run("run-1", [reversal("A1", "ORG-A", "300.00", remittance_id="R-old"), payable("A2", "ORG-A", "100.00")])
    [r1] = first.remittances
    assert [(c.claim_id, c.status_code, c.paid, c.original_remittance_id) for c in r1.claims] == [
        ("A1", "22", D("-300.00"), "R-old"), ("A2", "1", D("100.00"), None)]
    assert r1.payment.amount == D("0.00")
    assert [(a.reason, a.amount) for a in r1.provider_adjustments] == [("WO", D("200.00"))]
    assert balanced(r1) and first.balances["ORG-A"] == D("-200.00")

    second = run("run-2", [payable("A3", "ORG-A", "500.00", at=T0)], first.balances, first_sequence=2)
    [r2] = second.remittances
    assert [(a.reason, a.amount) for a in r2.provider_adjustments] == [("FB", D("-200.00"))]
    assert r2.payment.amount == D("300.00") and balanced(r2)
    assert second.balances["ORG-A"] == D("0.00")
    assert r2.payment.eft_trace_number != r1.payment.eft_trace_number


def test_partial_recovery_leaves_the_rest_carried():
    result = run("run-3", [payable("A4", "ORG-A", "120.00"), payable("B4", "ORG-B", "10.00")],
                 {"ORG-A": D("-200.00"), "ORG-C": D("-5.00")})
    a, b = result.remittances
    assert a.payment.amount == D("0.00") and [(x.reason, x.amount) for x in a.provider_adjustments] == [
        ("FB", D("-120.00"))]
    assert b.payment.amount == D("10.00") and b.provider_adjustments == ()
    # ORG-C had nothing to pay: no remittance, its balance carried unchanged
    assert dict(result.balances) == {"ORG-A": D("-80.00"), "ORG-B": D("0.00"), "ORG-C": D("-5.00")}


def test_payables_after_the_cutoff_wait_for_a_later_run():
    late = payable("A9", "ORG-A", "10.00", at=CUTOFF + timedelta(seconds=1))
    plan = plan_run("run-4", [payable("A8", "ORG-A", "10.00"), late], {}, CUTOFF)
    assert plan.payable_ids == ("A8",) and plan.deferred == ("A9",)


def test_refused_inputs():
    with pytest.raises(ValueError, match="twice"):
        plan_run("r", [payable("A1", "ORG-A", "1.00"), payable("A1", "ORG-A", "1.00")], {}, CUTOFF)
    with pytest.raises(ValueError, match="negative"):
        plan_run("r", [], {"ORG-A": D("1.00")}, CUTOFF)
    other_tin = payable("A2", "ORG-A", "1.00").model_copy(update={"tin": "999999999"})
    with pytest.raises(ValueError, match="TIN"):
        plan_run("r", [payable("A1", "ORG-A", "1.00"), other_tin], {}, CUTOFF)


# --- properties --------------------------------------------------------------------------------------------

ORGS = sorted(TINS)
amounts = st.decimals(min_value=D("0.00"), max_value=D("5000.00"), places=2)


@st.composite
def run_inputs(draw):
    items = draw(st.lists(st.tuples(st.sampled_from(ORGS), st.sampled_from(["claim", "denied", "reversal"]), amounts,
                                    st.integers(0, 120)), max_size=25))
    payables = []
    for index, (org, kind, amount, minutes) in enumerate(items):
        at = T0 + timedelta(minutes=minutes)
        if kind == "reversal":
            payables.append(reversal(f"C{index}", org, str(amount), at=at))
        else:
            payables.append(payable(f"C{index}", org, str(amount), at=at, denied=kind == "denied"))
    balances = draw(st.dictionaries(st.sampled_from(ORGS), amounts.map(lambda a: -a)))
    return payables, balances


@settings(max_examples=150, deadline=None)
@given(run_inputs())
def test_every_run_balances_and_conserves_money(inputs):
    payables, balances = inputs
    result = run("run-p", payables, balances)
    included = [p for p in payables if p.at <= CUTOFF]
    assert sorted(c.claim_id + c.status_code for r in result.remittances for c in r.claims) == sorted(
        p.claim_id + p.status_code for p in included)
    for remittance in result.remittances:
        assert balanced(remittance)
        assert remittance.payment.amount >= 0
        assert {c.claim_id for c in remittance.claims} <= {
            p.claim_id for p in included if p.organization_id == remittance.organization_id}
    assert all(balance <= 0 for balance in result.balances.values())
    # the carried total moves by exactly the reversals not recovered: -sum(provider adjustments)
    before, after = sum(balances.values(), D("0.00")), sum(result.balances.values(), D("0.00"))
    adjustments = sum((r.adjustments_total() for r in result.remittances), D("0.00"))
    assert after - before == -adjustments
    # money is conserved: payments + carried balances = claims paid + balances before
    payments = sum((r.payment.amount for r in result.remittances), D("0.00"))
    assert payments + after == sum((p.paid for p in included), D("0.00")) + before
    # a negative net pays 0 with WO; a positive one recovers with FB as far as it goes
    for remittance in result.remittances:
        reasons = [a.reason for a in remittance.provider_adjustments]
        if remittance.claims_paid() < 0:
            assert remittance.payment.amount == 0 and reasons == ["WO"]
        else:
            assert reasons in ([], ["FB"])


@settings(max_examples=60, deadline=None)
@given(run_inputs(), st.randoms(use_true_random=False))
def test_building_the_same_run_twice_gives_identical_remittances(inputs, rnd):
    payables, balances = inputs
    shuffled = list(payables)
    rnd.shuffle(shuffled)
    first, again = run("run-d", payables, balances), run("run-d", shuffled, dict(balances))
    assert first.remittances == again.remittances
    assert [r.model_dump_json() for r in first.remittances] == [r.model_dump_json() for r in again.remittances]
    assert dict(first.balances) == dict(again.balances)
