"""Properties of the claim engine over random plans, accumulator states and lines (hypothesis).

Whatever the plan, the member's accumulators and the lines: every line balances to
the cent, nothing is paid below zero, the member's share never exceeds what is left
of the out-of-pocket maximum, and applying a decision a second time changes nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.adjudication.domain.engine import Ledger, Reference, apply_decision
from services.adjudication.domain.ledger import changes_between
from tests.unit.adjudication.engine_support import MEMBER_ID, decide_claim, line, member, received

REFERENCE = Reference.load()
PLANS = sorted(REFERENCE.catalogue.plans)
CODES = sorted(REFERENCE.fee_schedule.rates)
MODIFIERS = ["26", "TC", "50", "51", "59", "25"]
ZERO = Decimal("0.00")

money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("30000.00"), places=2)


@st.composite
def scenarios(draw):
    plan_id = draw(st.sampled_from(PLANS))
    plan = REFERENCE.catalogue.plan(plan_id)
    family = draw(st.booleans())
    deductible_met = draw(st.decimals(min_value=0, max_value=plan.deductible.individual, places=2))
    oop_met = draw(st.decimals(min_value=deductible_met, max_value=plan.out_of_pocket_max.individual, places=2))
    ledger = Ledger.empty("F1" if family else MEMBER_ID)
    if family:
        family_deductible = draw(st.decimals(min_value=deductible_met, max_value=plan.deductible.family, places=2))
        family_oop = draw(st.decimals(min_value=max(oop_met, family_deductible), max_value=plan.out_of_pocket_max.family,
                                      places=2))
        ledger = ledger.with_opening_balance(2026, MEMBER_ID, deductible_met, oop_met, family_deductible, family_oop)
    else:
        ledger = ledger.with_opening_balance(2026, MEMBER_ID, deductible_met, oop_met)
    lines = []
    for number in range(1, draw(st.integers(1, 8)) + 1):
        day = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 150)))
        lines.append(line(number, draw(st.sampled_from(CODES)), str(draw(money)), day.isoformat(),
                          units=draw(st.integers(1, 4)), modifiers=draw(st.lists(st.sampled_from(MODIFIERS), max_size=2,
                                                                                   unique=True)),
                          pos=draw(st.sampled_from(["11", "22", "23", "02"]))))
    copy = member(plan=plan_id, family_id="F1" if family else None)
    in_network = draw(st.booleans())
    return plan, copy, ledger, received(*lines), in_network


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_every_line_balances_and_the_share_stays_under_the_cap(scenario):
    plan, copy, ledger, claim, in_network = scenario
    decision = decide_claim(claim, copy, ledger=ledger, contracted=frozenset({plan.id}) if in_network else frozenset(),
                            documentation_received=True)
    remaining_oop = plan.out_of_pocket_max.individual - ledger.member_balance(2026, MEMBER_ID).out_of_pocket
    if copy.family_id:
        remaining_oop = min(remaining_oop,
                            plan.out_of_pocket_max.family - ledger.family_balance(2026).out_of_pocket)
    for decided in decision.lines:
        assert decided.charge_amount == decided.paid_amount + sum((a.amount for a in decided.adjustments), ZERO)
        assert decided.paid_amount >= 0 and decided.allowed_amount <= decided.charge_amount
        assert decided.patient_responsibility == decided.deductible + decided.copay + decided.coinsurance
        assert decided.paid_amount == decided.allowed_amount - decided.patient_responsibility
        assert all(a.amount > 0 for a in decided.adjustments)
    share = sum((d.patient_responsibility for d in decision.lines), ZERO)
    assert share <= max(remaining_oop, ZERO)

    after = apply_decision(ledger, decision, claim)
    assert apply_decision(after, decision, claim) is after
    applied = changes_between(ledger, after)
    assert sum((c.balance.out_of_pocket for c in applied), ZERO) == share
    assert sum((c.balance.deductible for c in applied), ZERO) == sum((d.deductible for d in decision.lines), ZERO)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_a_void_gives_back_exactly_what_the_original_counted(scenario):
    plan, copy, ledger, claim, _ = scenario
    decision = decide_claim(claim, copy, ledger=ledger, contracted=frozenset({plan.id}), documentation_received=True)
    after = apply_decision(ledger, decision, claim)
    from services.adjudication.domain.ledger import apply_void

    void = {**claim, "claim_id": "C-VOID", "frequency_code": "8", "original_claim_id": claim["claim_id"]}
    voided = apply_void(after, void, "adj-void")
    assert apply_void(voided, void, "adj-void") is voided
    assert voided.member_balance(2026, MEMBER_ID) == ledger.member_balance(2026, MEMBER_ID)
    assert voided.family_balance(2026) == ledger.family_balance(2026)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_an_expired_info_request_gives_back_the_decision_in_effect_once(scenario):
    from services.adjudication.domain.ledger import apply_expiry, authorization_changes

    plan, copy, ledger, claim, _ = scenario
    decision = decide_claim(claim, copy, ledger=ledger, contracted=frozenset({plan.id}), documentation_received=True)
    after = apply_decision(ledger, decision, claim)
    expired = apply_expiry(after, claim, "adj-expiry")
    assert apply_expiry(expired, claim, "adj-expiry") is expired
    assert expired.member_balance(2026, MEMBER_ID) == ledger.member_balance(2026, MEMBER_ID)
    assert expired.family_balance(2026) == ledger.family_balance(2026)
    assert authorization_changes(ledger, expired) == {}
    given_back = changes_between(after, expired)
    assert sum((c.balance.deductible for c in given_back), ZERO) == -sum((d.deductible for d in decision.lines), ZERO)
    # The claim's history stays: its first decision is still recognised as applied (a redelivery).
    assert expired.has_applied(claim["claim_id"], decision.adjudication_id)
