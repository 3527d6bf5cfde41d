"""Family policies: enrollment rules, family accumulators, and what a family member's check shows."""

from datetime import date
from decimal import Decimal

import pytest

from services.eligibility.accumulator_cache import AccumulatorCache
from services.eligibility.domain import (
    Accumulators,
    AccumulatorUpdate,
    DomainError,
    DomainErrors,
    FamilyAccumulators,
    MemberEnrolled,
    apply_family_accumulator_event,
    enroll,
    evaluate,
    replay,
)

from .support import CATALOGUE, PERSON, check

D = Decimal
JAN1, DOS = date(2026, 1, 1), date(2026, 5, 14)
PLAN = "gold-hmo-2026"  # deductible 1500.00 / 3000.00, out-of-pocket 7500.00 / 15000.00


def member(member_id, **policy):
    return replay(enroll(member_id, PERSON, PLAN, JAN1, None, CATALOGUE, **policy))


SUBSCRIBER = member("M1", coverage_tier="family")


def test_a_subscriber_on_a_family_policy_names_the_family():
    [event] = enroll("M1", PERSON, PLAN, JAN1, None, CATALOGUE, coverage_tier="family")
    assert (event.coverage_tier, event.subscriber_member_id, event.family_id) == ("family", None, "M1")
    assert (SUBSCRIBER.coverage_tier, SUBSCRIBER.family_id) == ("family", "M1")


def test_a_dependent_is_on_the_subscribers_family_policy_whatever_tier_is_left_unsaid():
    [event] = enroll("M2", PERSON, PLAN, JAN1, None, CATALOGUE, subscriber_member_id="M1", subscriber=SUBSCRIBER)
    assert (event.coverage_tier, event.subscriber_member_id, event.family_id) == ("family", "M1", "M1")
    dependent = replay([event])
    assert (dependent.coverage_tier, dependent.subscriber_member_id, dependent.family_id) == ("family", "M1", "M1")


def test_an_individual_policy_is_the_default_and_has_no_family():
    [event] = enroll("M3", PERSON, PLAN, JAN1, None, CATALOGUE)
    assert event.payload()["coverage_tier"] == "individual" and event.family_id is None
    assert replay([event]).family_id is None
    # Events stored before family policies existed read as individual policies.
    old = {k: v for k, v in event.payload().items() if k not in ("coverage_tier", "subscriber_member_id")}
    assert replay([MemberEnrolled.model_validate(old)]).family_id is None


@pytest.mark.parametrize("policy,code,loc", [
    (dict(subscriber_member_id="M9", subscriber=None), "unknown_subscriber", "subscriber_member_id"),
    (dict(subscriber_member_id="M2", subscriber=member("M2", subscriber_member_id="M1", subscriber=SUBSCRIBER)),
     "subscriber_is_dependent", "subscriber_member_id"),
    (dict(subscriber_member_id="M3", subscriber=member("M3")), "subscriber_not_on_family_policy",
     "subscriber_member_id"),
    (dict(coverage_tier="individual", subscriber_member_id="M1", subscriber=SUBSCRIBER), "dependent_is_family",
     "coverage_tier"),
])
def test_a_policy_that_cannot_be_is_refused_naming_the_field(policy, code, loc):
    with pytest.raises(DomainError) as refused:
        enroll("M4", PERSON, PLAN, JAN1, None, CATALOGUE, **policy)
    assert (refused.value.code, refused.value.loc) == (code, loc)


def test_every_problem_of_an_enrollment_is_refused_at_once():
    with pytest.raises(DomainErrors) as refused:
        enroll("M4", PERSON, PLAN, JAN1, date(2025, 12, 31), CATALOGUE,
               coverage_tier="individual", subscriber_member_id="M9", subscriber=None)
    assert [(e.code, e.loc) for e in refused.value.errors] == [
        ("coverage_end_before_start", "coverage_end"),
        ("dependent_is_family", "coverage_tier"),
        ("unknown_subscriber", "subscriber_member_id"),
    ]


# family accumulators


def update(adjudication_id, member_id, deductible, oop, family_id="M1", plan_year=2026):
    return {"member_id": member_id, "plan_id": PLAN, "plan_year": plan_year, "deductible_applied": deductible,
            "out_of_pocket_applied": oop, "claim_id": "C-" + adjudication_id, "adjudication_id": adjudication_id,
            "family_id": family_id}


def family_of(*updates):
    totals = None
    for u in updates:
        totals = apply_family_accumulator_event(totals, u)
    return totals


def test_the_family_sums_its_members_once_per_adjudication():
    first, second = update("A1", "M1", "400.00", "500.00"), update("A2", "M2", "300.00", "350.00")
    totals = family_of(first, second, first, second)
    assert (totals.family_id, totals.deductible_met, totals.out_of_pocket_met) == ("M1", D("700.00"), D("850.00"))
    reversed_ = apply_family_accumulator_event(totals, update("A2-rev", "M2", "-300.00", "-350.00"))
    assert reversed_.deductible_met == D("400.00")
    assert apply_family_accumulator_event(reversed_, update("A2-rev", "M2", "-300.00", "-350.00")) is reversed_


def test_a_family_total_takes_only_its_own_family_and_year():
    totals = family_of(update("A1", "M1", "10.00", "10.00"))
    with pytest.raises(ValueError):
        apply_family_accumulator_event(totals, update("A2", "M7", "10.00", "10.00", family_id="M7"))
    with pytest.raises(ValueError):
        apply_family_accumulator_event(totals, update("A3", "M2", "10.00", "10.00", plan_year=2027))
    with pytest.raises(ValueError):
        apply_family_accumulator_event(None, update("A4", "M3", "10.00", "10.00", family_id=None))


def test_family_totals_round_trip_through_their_stored_document():
    totals = family_of(update("A1", "M1", "10.00", "20.00"))
    assert FamilyAccumulators.model_validate(totals.model_dump(mode="json")) == totals


def test_the_in_memory_family_copy_folds_with_the_family_rule():
    import time

    cache = AccumulatorCache(lambda loaded_at: True, apply=apply_family_accumulator_event, copy="test_family")
    cache.on_update("family:M1:2026", AccumulatorUpdate.model_validate(update("A1", "M2", "50.00", "50.00")))
    loaded = cache.put("family:M1:2026", None, time.monotonic())
    assert (loaded.family_id, loaded.deductible_met) == ("M1", D("50.00"))


# checks


def individual_totals(member_id, deductible, oop):
    return Accumulators(member_id=member_id, plan_year=2026, deductible_total=D(deductible),
                        out_of_pocket_total=D(oop))


def family_totals(deductible, oop, family_id="M1"):
    return FamilyAccumulators(family_id=family_id, plan_year=2026, deductible_total=D(deductible),
                              out_of_pocket_total=D(oop))


def benefits(person, accumulators, families):
    return evaluate(check(DOS, member_id=person.member_id), person, accumulators, CATALOGUE, None,
                    families).model_dump(mode="json")["benefits"]


def test_a_family_member_sees_the_family_figures_and_the_lesser_remaining():
    dependent = member("M2", subscriber_member_id="M1", subscriber=SUBSCRIBER)
    shown = benefits(dependent, [individual_totals("M2", "1000.00", "1200.00")], [family_totals("2800.00", "3000.00")])
    assert shown["deductible"] == {"amount": "1500.00", "met": "1000.00", "remaining": "200.00",
                                   "family": {"amount": "3000.00", "met": "2800.00", "remaining": "200.00"}}
    assert shown["out_of_pocket_max"] == {"amount": "7500.00", "met": "1200.00", "remaining": "6300.00",
                                          "family": {"amount": "15000.00", "met": "3000.00", "remaining": "12000.00"}}


def test_the_family_deductible_met_meets_every_members_deductible():
    shown = benefits(SUBSCRIBER, [], [family_totals("3100.00", "3100.00")])
    assert shown["deductible"] == {"amount": "1500.00", "met": "0.00", "remaining": "0.00",
                                   "family": {"amount": "3000.00", "met": "3000.00", "remaining": "0.00"}}


def test_a_family_with_nothing_accumulated_yet_shows_the_whole_family_amount():
    shown = benefits(SUBSCRIBER, [], [family_totals("900.00", "900.00", family_id="M7")])  # another family's
    assert shown["deductible"]["family"] == {"amount": "3000.00", "met": "0.00", "remaining": "3000.00"}


def test_an_individual_policy_answers_exactly_as_before():
    alone = member("M3")
    shown = benefits(alone, [individual_totals("M3", "100.00", "100.00")], [family_totals("2900.00", "2900.00")])
    assert shown["deductible"] == {"amount": "1500.00", "met": "100.00", "remaining": "1400.00"}
    assert "family" not in shown["out_of_pocket_max"]
