import itertools
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.eligibility.domain import Accumulators, apply_accumulator_event, empty_accumulators

D = Decimal


def update(adjudication_id, deductible, oop, member_id="M100", plan_year=2026, claim_id="C1"):
    return {
        "member_id": member_id,
        "plan_id": "gold-hmo-2026",
        "plan_year": plan_year,
        "deductible_applied": deductible,
        "out_of_pocket_applied": oop,
        "claim_id": claim_id,
        "adjudication_id": adjudication_id,
    }


def fold(updates, start=None):
    acc = start
    for u in updates:
        acc = apply_accumulator_event(acc, u)
    return acc


def test_first_update_starts_the_year():
    acc = apply_accumulator_event(None, update("A1", "250.00", "300.00"))
    assert (acc.member_id, acc.plan_year) == ("M100", 2026)
    assert (acc.deductible_met, acc.out_of_pocket_met) == (D("250.00"), D("300.00"))


def test_replaying_an_update_does_not_double_count():
    once = fold([update("A1", "250.00", "300.00"), update("A2", "100.00", "100.00")])
    again = fold([update("A1", "250.00", "300.00"), update("A2", "100.00", "100.00")], start=once)
    assert again == once
    assert once.deductible_met == D("350.00")


def test_reversal_with_its_own_id_takes_the_amount_back():
    acc = fold([update("A1", "250.00", "300.00"), update("A1-rev", "-250.00", "-300.00")])
    assert (acc.deductible_met, acc.out_of_pocket_met) == (D("0.00"), D("0.00"))


def test_met_is_never_negative():
    acc = apply_accumulator_event(empty_accumulators("M100", 2026), update("R1", "-80.00", "-80.00"))
    assert (acc.deductible_met, acc.out_of_pocket_met) == (D("0.00"), D("0.00"))


def test_order_of_arrival_does_not_change_the_result():
    updates = [update("A1", "250.00", "300.00"), update("A1-rev", "-250.00", "-300.00"), update("A2", "40.00", "75.00")]
    results = {fold(order).model_dump_json() for order in itertools.permutations(updates)}
    assert len(results) == 1
    assert fold(updates).deductible_met == D("40.00")


def test_update_for_another_member_or_benefit_year_is_a_bug_not_a_merge():
    acc = apply_accumulator_event(None, update("A1", "10.00", "10.00"))
    with pytest.raises(ValueError):
        apply_accumulator_event(acc, update("A2", "10.00", "10.00", member_id="M999"))
    with pytest.raises(ValueError):
        apply_accumulator_event(acc, update("A3", "10.00", "10.00", plan_year=2027))


@pytest.mark.parametrize("bad", ["12.345", 12.5, "NaN", "lots"])
def test_amounts_must_be_exact_decimal_strings(bad):
    with pytest.raises(ValidationError):
        apply_accumulator_event(None, update("A1", bad, "0.00"))


def test_stored_form_round_trips_and_shows_what_is_met():
    acc = fold([update("A2", "40.00", "75.00"), update("A1", "-50.00", "10.00")])
    stored = acc.model_dump(mode="json")
    assert stored == {
        "member_id": "M100",
        "plan_year": 2026,
        "deductible_total": "-10.00",
        "out_of_pocket_total": "85.00",
        "applied_adjudication_ids": ["A1", "A2"],
        "deductible_met": "0.00",
        "out_of_pocket_met": "85.00",
    }
    assert Accumulators.model_validate(stored) == acc
