from datetime import date
from decimal import Decimal

import pytest

from services.eligibility.domain import Accumulators, apply_accumulator_event, evaluate

from .support import CATALOGUE, PLANS, changed, check, enrolled, terminated

D = Decimal
DOS = date(2026, 5, 14)
PCP, SPECIALIST, ER = "99213", "99243", "99284"


def _money(value):
    return None if value is None else D(value)


def _accumulators(deductible, oop, plan_year=2026):
    return apply_accumulator_event(
        None,
        {
            "member_id": "M100",
            "plan_id": "any",
            "plan_year": plan_year,
            "deductible_applied": deductible,
            "out_of_pocket_applied": oop,
            "claim_id": "C1",
            "adjudication_id": f"A-{plan_year}-{deductible}",
        },
    )


# benefits of every seeded plan


@pytest.mark.parametrize(
    "plan_id,metal,network,deductible,oop,coinsurance,pcp,specialist,er", PLANS, ids=[p[0] for p in PLANS]
)
def test_active_check_reports_the_plans_benefits(
    plan_id, metal, network, deductible, oop, coinsurance, pcp, specialist, er
):
    member = enrolled(plan_id, date(2026, 1, 1))
    result = evaluate(check(DOS, PCP, SPECIALIST, ER), member, [], CATALOGUE, {plan_id})

    assert result.status == "active"
    assert result.plan.model_dump() == {
        "id": plan_id,
        "name": CATALOGUE.plan(plan_id).name,
        "metal_level": metal,
        "network_type": network,
    }
    assert (result.coverage.start, result.coverage.end) == (date(2026, 1, 1), None)  # open-ended
    benefits = result.benefits
    assert (benefits.deductible.amount, benefits.deductible.met, benefits.deductible.remaining) == (
        D(deductible[0]),
        0,
        D(deductible[0]),
    )
    assert (benefits.out_of_pocket_max.amount, benefits.out_of_pocket_max.remaining) == (D(oop[0]), D(oop[0]))
    assert benefits.coinsurance_percent == coinsurance
    assert dict(benefits.copays) == CATALOGUE.plan(plan_id).copays
    assert benefits.copays["preventive"] == D("0.00")

    for service, code, (copay, deductible_applies) in zip(
        result.services, (PCP, SPECIALIST, ER), (pcp, specialist, er), strict=True
    ):
        assert service.procedure_code == code
        assert (service.known, service.covered, service.in_network) == (True, True, True)
        assert service.copay == _money(copay)
        # A copay stands in for coinsurance; without one the plan's coinsurance applies.
        assert service.coinsurance_percent == (coinsurance if copay is None else 0)
        assert service.deductible_applies is (deductible_applies and D(deductible[0]) > 0)
        assert service.prior_authorization_required is False


def test_zero_deductible_plan_never_says_the_deductible_applies():
    result = evaluate(
        check(DOS, "E0601", "27447"),
        enrolled("platinum-epo-2026", date(2026, 1, 1)),
        [],
        CATALOGUE,
        {"platinum-epo-2026"},
    )
    assert [(s.copay, s.coinsurance_percent, s.deductible_applies) for s in result.services] == [
        (None, 10, False),
        (D("500.00"), 0, False),
    ]


def test_hsa_plan_shows_a_copay_that_starts_after_the_deductible():
    result = evaluate(check(DOS, PCP, "98005"), enrolled("bronze-hmo-hsa-2026", date(2026, 1, 1)), [], CATALOGUE, None)
    primary, telehealth = result.services
    assert (primary.copay, primary.deductible_applies) == (D("40.00"), True)
    assert (telehealth.copay, telehealth.deductible_applies) == (D("0.00"), False)


# coverage boundaries


def _history():
    """Silver from Feb 1, Gold from Jun 1, terminated Sep 30."""
    member = enrolled("silver-hmo-2026", date(2026, 2, 1))
    member = changed(member, "gold-hmo-2026", date(2026, 6, 1))
    return terminated(member, date(2026, 9, 30))


@pytest.mark.parametrize(
    "dos,status,plan_id,period",
    [
        (
            date(2026, 1, 31),
            "inactive",
            "silver-hmo-2026",
            (date(2026, 2, 1), date(2026, 5, 31)),
        ),  # before start: next period
        (date(2026, 2, 1), "active", "silver-hmo-2026", (date(2026, 2, 1), date(2026, 5, 31))),
        (date(2026, 5, 31), "active", "silver-hmo-2026", (date(2026, 2, 1), date(2026, 5, 31))),
        (date(2026, 6, 1), "active", "gold-hmo-2026", (date(2026, 6, 1), date(2026, 9, 30))),
        (date(2026, 9, 30), "active", "gold-hmo-2026", (date(2026, 6, 1), date(2026, 9, 30))),
        (date(2026, 10, 1), "inactive", "gold-hmo-2026", (date(2026, 6, 1), date(2026, 9, 30))),  # after: last period
    ],
)
def test_status_follows_coverage_periods(dos, status, plan_id, period):
    result = evaluate(check(dos), _history(), [], CATALOGUE, None)
    assert result.status == status
    assert result.plan.id == plan_id
    assert (result.coverage.start, result.coverage.end) == period
    assert (result.benefits is None) is (status == "inactive")


def test_open_ended_coverage_is_active_years_later():
    member = enrolled("silver-hmo-2026", date(2025, 1, 1))
    result = evaluate(check(date(2030, 3, 15), PCP), member, [], CATALOGUE, {"silver-hmo-2026"})
    assert result.status == "active"
    assert result.plan.id == "silver-hmo-2026"
    assert result.model_dump(mode="json")["coverage"] == {"start": "2025-01-01", "end": None}
    # The plan's design renews every year: same benefits in 2030 as in its design year.
    assert result.benefits == evaluate(check(DOS, PCP), member, [], CATALOGUE, {"silver-hmo-2026"}).benefits
    assert (result.services[0].covered, result.services[0].copay) == (True, D("35.00"))


@pytest.mark.parametrize(
    "dos,status",
    [
        (date(2024, 12, 31), "inactive"),
        (date(2025, 1, 1), "active"),
        (date(2026, 1, 1), "active"),
        (date(2027, 6, 30), "active"),
        (date(2027, 7, 1), "inactive"),
    ],
)
def test_coverage_spanning_2025_to_2027(dos, status):
    member = enrolled("gold-hmo-2026", date(2025, 1, 1), date(2027, 6, 30))
    result = evaluate(check(dos), member, [], CATALOGUE, None)
    assert result.status == status
    assert result.plan.id == "gold-hmo-2026"
    assert result.model_dump(mode="json")["coverage"] == {"start": "2025-01-01", "end": "2027-06-30"}
    assert (result.benefits is None) is (status == "inactive")


def test_inactive_check_answers_each_code_as_not_covered():
    result = evaluate(check(date(2026, 10, 1), PCP, "BOGUS"), _history(), [], CATALOGUE, {"gold-hmo-2026"})
    assert [(s.procedure_code, s.covered, s.reason.code) for s in result.services] == [
        (PCP, False, "coverage_inactive"),
        ("BOGUS", False, "unknown_procedure_code"),
    ]


# identity


@pytest.mark.parametrize(
    "request_,member",
    [
        (check(DOS, PCP, dob=date(1984, 7, 20)), "enrolled"),  # off by one day
        (check(DOS, PCP, dob=date(1984, 7, 19), member_id="M999"), "enrolled"),  # not the member loaded
        (check(DOS, PCP), None),  # no such member
    ],
)
def test_wrong_birth_date_looks_exactly_like_an_unknown_member(request_, member):
    member = enrolled("gold-hmo-2026", date(2026, 1, 1)) if member else None
    accumulators = [_accumulators("100.00", "100.00")]
    result = evaluate(request_, member, accumulators, CATALOGUE, {"gold-hmo-2026"})
    assert result.model_dump(mode="json") == {
        "status": "not_found",
        "plan": None,
        "coverage": None,
        "benefits": None,
        "services": [],
    }


def test_not_found_even_when_coverage_is_inactive():
    result = evaluate(check(date(2026, 10, 1), dob=date(1990, 1, 1)), _history(), [], CATALOGUE, None)
    assert result.status == "not_found"
    assert result.plan is None


# network and prior authorization


def test_prior_authorization_flags_follow_the_plan():
    codes = ("72148", "70450", PCP, "27447", "E0601", "95810")
    silver_hmo = evaluate(
        check(DOS, *codes), enrolled("silver-hmo-2026", date(2026, 1, 1)), [], CATALOGUE, {"silver-hmo-2026"}
    )
    platinum = evaluate(
        check(DOS, *codes), enrolled("platinum-epo-2026", date(2026, 1, 1)), [], CATALOGUE, {"platinum-epo-2026"}
    )
    assert [s.prior_authorization_required for s in silver_hmo.services] == [True, True, False, True, True, True]
    assert [s.prior_authorization_required for s in platinum.services] == [True, False, False, True, True, False]


@pytest.mark.parametrize("plan_id", [p[0] for p in PLANS if p[2] != "PPO"])
def test_out_of_network_provider_is_covered_only_for_emergencies(plan_id):
    member = enrolled(plan_id, date(2026, 1, 1))
    contracted_elsewhere = {p for p in CATALOGUE.plans if p != plan_id}
    in_net = evaluate(check(DOS, PCP, "72148", ER), member, [], CATALOGUE, {plan_id})
    out_net = evaluate(check(DOS, PCP, "72148", ER), member, [], CATALOGUE, contracted_elsewhere)

    assert [(s.covered, s.in_network) for s in in_net.services] == [(True, True)] * 3
    primary, imaging, emergency = out_net.services
    for service in (primary, imaging):
        assert (service.covered, service.in_network, service.reason.code) == (False, False, "out_of_network")
        assert (service.copay, service.coinsurance_percent, service.prior_authorization_required) == (None, None, False)
    # Emergency care out of network costs the member what it would in network.
    assert (emergency.covered, emergency.in_network) == (True, False)
    assert emergency.model_dump(exclude={"in_network"}) == in_net.services[2].model_dump(exclude={"in_network"})
    # The plan-level benefits do not depend on who asks.
    assert out_net.benefits == in_net.benefits


def test_no_provider_named_leaves_network_status_unknown():
    result = evaluate(check(DOS, PCP), enrolled("gold-hmo-2026", date(2026, 1, 1)), [], CATALOGUE, None)
    assert (result.services[0].in_network, result.services[0].covered) == (None, True)


# procedure codes


def test_unknown_codes_are_reported_per_code_in_request_order():
    result = evaluate(
        check(DOS, "ZZZZZ", PCP, "0000", "e0601", PCP),
        enrolled("gold-hmo-2026", date(2026, 1, 1)),
        [],
        CATALOGUE,
        {"gold-hmo-2026"},
    )
    assert result.status == "active"
    assert [(s.procedure_code, s.known, s.category, s.covered) for s in result.services] == [
        ("ZZZZZ", False, None, False),
        (PCP, True, "primary_care", True),
        ("0000", False, None, False),
        ("e0601", True, "durable_medical_equipment", True),
        (PCP, True, "primary_care", True),
    ]
    unknown = result.services[0]
    assert unknown.reason.code == "unknown_procedure_code"
    assert "ZZZZZ" in unknown.reason.message
    assert (
        unknown.copay,
        unknown.coinsurance_percent,
        unknown.deductible_applies,
        unknown.prior_authorization_required,
    ) == (None, None, None, False)


def test_no_codes_no_services():
    assert evaluate(check(DOS), enrolled("gold-hmo-2026", date(2026, 1, 1)), [], CATALOGUE, None).services == ()


# accumulators


@pytest.mark.parametrize(
    "deductible_met,oop_met,expected",
    [
        ("0.00", "0.00", (("0.00", "1500.00"), ("0.00", "7500.00"))),
        ("400.00", "520.00", (("400.00", "1100.00"), ("520.00", "6980.00"))),
        ("1500.00", "7500.00", (("1500.00", "0.00"), ("7500.00", "0.00"))),
        ("2000.00", "9000.00", (("1500.00", "0.00"), ("7500.00", "0.00"))),  # carried over from a higher-limit plan
        ("-50.00", "-50.00", (("0.00", "1500.00"), ("0.00", "7500.00"))),  # over-reversed
    ],
)
def test_remaining_is_amount_minus_met_and_never_negative(deductible_met, oop_met, expected):
    result = evaluate(
        check(DOS),
        enrolled("gold-hmo-2026", date(2026, 1, 1)),
        [_accumulators(deductible_met, oop_met)],
        CATALOGUE,
        None,
    )
    benefits = result.benefits
    (ded_met, ded_rem), (oop_met_, oop_rem) = expected
    assert (benefits.deductible.met, benefits.deductible.remaining) == (D(ded_met), D(ded_rem))
    assert (benefits.out_of_pocket_max.met, benefits.out_of_pocket_max.remaining) == (D(oop_met_), D(oop_rem))
    assert benefits.deductible.met + benefits.deductible.remaining == benefits.deductible.amount


def test_only_the_accumulators_of_the_date_of_services_year_count():
    accumulators = [_accumulators("900.00", "900.00", plan_year=2025), _accumulators("300.00", "350.00")]
    result = evaluate(check(DOS), enrolled("gold-hmo-2026", date(2026, 1, 1)), accumulators, CATALOGUE, None)
    assert result.benefits.deductible.met == D("300.00")


@pytest.mark.parametrize(
    "dos,deductible_met,oop_met",
    [
        (date(2025, 3, 1), "100.00", "110.00"),
        (date(2025, 12, 31), "100.00", "110.00"),
        (date(2026, 1, 1), "200.00", "220.00"),  # the benefit year resets on January 1
        (date(2027, 6, 30), "300.00", "330.00"),
        (date(2028, 2, 1), "0.00", "0.00"),  # nothing accumulated yet that year
    ],
)
def test_accumulators_are_picked_by_the_date_of_services_calendar_year(dos, deductible_met, oop_met):
    accumulators = [
        _accumulators("300.00", "330.00", plan_year=2027),
        _accumulators("100.00", "110.00", plan_year=2025),
        _accumulators("200.00", "220.00", plan_year=2026),
    ]
    member = enrolled("gold-hmo-2026", date(2025, 1, 1))  # open-ended, design year 2026
    benefits = evaluate(check(dos), member, accumulators, CATALOGUE, None).benefits
    assert (benefits.deductible.met, benefits.out_of_pocket_max.met) == (D(deductible_met), D(oop_met))
    assert benefits.deductible.remaining == D("1500.00") - D(deductible_met)


def test_another_members_accumulators_never_count():
    other = Accumulators(member_id="M999", plan_year=2026, deductible_total=D("700.00"), out_of_pocket_total=D("7.00"))
    result = evaluate(check(DOS), enrolled("gold-hmo-2026", date(2026, 1, 1)), [other], CATALOGUE, None)
    assert result.benefits.deductible.met == D("0.00")


def test_plan_change_across_a_year_boundary_switches_plan_and_benefit_year():
    member = changed(enrolled("silver-hmo-2026", date(2025, 7, 1)), "gold-hmo-2026", date(2026, 1, 1))
    accumulators = [_accumulators("1000.00", "1200.00", plan_year=2025), _accumulators("50.00", "60.00")]

    december = evaluate(check(date(2025, 12, 31), PCP), member, accumulators, CATALOGUE, None)
    assert (december.status, december.plan.id) == ("active", "silver-hmo-2026")
    assert (december.coverage.start, december.coverage.end) == (date(2025, 7, 1), date(2025, 12, 31))
    assert (december.benefits.deductible.amount, december.benefits.deductible.met) == (D("4800.00"), D("1000.00"))
    assert december.services[0].copay == D("35.00")

    january = evaluate(check(date(2026, 1, 1), PCP), member, accumulators, CATALOGUE, None)
    assert (january.status, january.plan.id) == ("active", "gold-hmo-2026")
    assert (january.coverage.start, january.coverage.end) == (date(2026, 1, 1), None)
    assert (january.benefits.deductible.amount, january.benefits.deductible.met) == (D("1500.00"), D("50.00"))
    assert january.services[0].copay == D("20.00")


def test_accumulators_carry_across_a_plan_change_in_the_same_year():
    member = changed(enrolled("silver-hmo-2026", date(2026, 1, 1)), "gold-hmo-2026", date(2026, 7, 1))
    result = evaluate(check(date(2026, 7, 1)), member, [_accumulators("1200.00", "1600.00")], CATALOGUE, None)
    assert (result.benefits.deductible.amount, result.benefits.deductible.remaining) == (D("1500.00"), D("300.00"))


def test_result_serializes_to_the_public_shape():
    accumulators = [
        Accumulators(member_id="M100", plan_year=2026, deductible_total=D("250.00"), out_of_pocket_total=D("250.00"))
    ]
    body = evaluate(
        check(DOS, ER), enrolled("silver-hmo-2026", date(2026, 1, 1)), accumulators, CATALOGUE, {"silver-hmo-2026"}
    ).model_dump(mode="json")
    assert body["status"] == "active"
    assert body["coverage"] == {"start": "2026-01-01", "end": None}
    assert body["benefits"]["deductible"] == {"amount": "4800.00", "met": "250.00", "remaining": "4550.00"}
    assert body["benefits"]["copays"]["emergency_room"] == "450.00"
    assert body["benefits"]["copays"]["imaging"] is None
    assert body["services"] == [
        {
            "procedure_code": ER,
            "known": True,
            "category": "emergency_room",
            "covered": True,
            "in_network": True,
            "prior_authorization_required": False,
            "copay": "450.00",
            "coinsurance_percent": 0,
            "deductible_applies": True,
            "reason": None,
        }
    ]


def test_a_service_the_plan_excludes_is_answered_not_covered_with_the_reason():
    member = enrolled("silver-hmo-2026", date(2026, 1, 1))
    result = evaluate(check(DOS, "15823", PCP), member, [], CATALOGUE, {"silver-hmo-2026"})
    excluded, visit = result.services
    assert (excluded.covered, excluded.reason.code, excluded.prior_authorization_required) == (
        False, "excluded_service", False)
    assert visit.covered is True
