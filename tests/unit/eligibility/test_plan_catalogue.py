import copy
import json
from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from refdata.plans import (
    PLANS_FILE,
    PROCEDURE_CODES_FILE,
    UnknownPlanError,
    benefit_year,
    load_catalogue,
    parse_catalogue,
)

from .support import PLANS

CATALOGUE = load_catalogue()
PLANS_DOC = json.loads(PLANS_FILE.read_text())
PROCEDURES_DOC = json.loads(PROCEDURE_CODES_FILE.read_text())

D = Decimal
PLAN_IDS = [row[0] for row in PLANS]


def _money(value):
    return None if value is None else D(value)


@pytest.mark.parametrize(
    "day,year",
    [(date(2025, 1, 1), 2025), (date(2026, 12, 31), 2026), (date(2027, 1, 1), 2027), (date(2030, 6, 15), 2030)],
)
def test_the_benefit_year_is_the_calendar_year_of_the_date_of_service(day, year):
    # Whatever the plan's design year (2026 for every seeded plan): designs renew each January 1.
    assert benefit_year(day) == year


def test_the_table_lists_every_seeded_plan():
    assert sorted(CATALOGUE.plans) == sorted(PLAN_IDS)


@pytest.mark.parametrize("plan_id,metal,network,deductible,oop,coinsurance,pcp,specialist,er", PLANS, ids=PLAN_IDS)
def test_plan_benefits_are_as_published(plan_id, metal, network, deductible, oop, coinsurance, pcp, specialist, er):
    plan = CATALOGUE.plan(plan_id)
    assert (plan.metal_level, plan.network_type, plan.plan_year) == (metal, network, 2026)
    assert (plan.deductible.individual, plan.deductible.family) == tuple(map(D, deductible))
    assert (plan.out_of_pocket_max.individual, plan.out_of_pocket_max.family) == tuple(map(D, oop))
    assert plan.coinsurance_percent == coinsurance
    for category, (copay, deductible_applies) in {
        "primary_care": pcp,
        "specialist": specialist,
        "emergency_room": er,
    }.items():
        sharing = plan.cost_sharing[category]
        assert (sharing.copay, sharing.deductible_applies) == (_money(copay), deductible_applies), category


def test_catalogue_spans_every_metal_level_and_network_type():
    plans = CATALOGUE.plans.values()
    assert {p.metal_level for p in plans} == {"bronze", "silver", "gold", "platinum"}
    assert {p.network_type for p in plans} == {"HMO", "EPO", "PPO"}
    assert any(p.hsa_eligible for p in plans)


@pytest.mark.parametrize("plan_id", PLAN_IDS)
def test_every_plan_respects_the_aca_rules(plan_id):
    plan = CATALOGUE.plan(plan_id)
    assert plan.out_of_pocket_max.individual <= D("10600.00")
    assert plan.out_of_pocket_max.family <= D("21200.00")
    assert plan.deductible.individual <= plan.out_of_pocket_max.individual
    assert set(plan.cost_sharing) == set(CATALOGUE.categories)
    assert plan.cost_sharing["preventive"].copay == D("0.00")
    assert not plan.cost_sharing["preventive"].deductible_applies
    assert "emergency_room" in plan.out_of_network.covered_categories
    assert plan.out_of_network.cost_sharing == "in_network"
    if plan.network_type == "PPO":
        assert plan.out_of_network.covered_categories == frozenset(CATALOGUE.categories)
        assert plan.out_of_network.coinsurance_percent >= plan.coinsurance_percent
    else:
        assert plan.out_of_network.covered_categories == frozenset({"emergency_room"})
        assert plan.out_of_network.coinsurance_percent is None


@pytest.mark.parametrize("plan_id", PLAN_IDS)
def test_every_plan_has_a_filing_limit_and_excludes_cosmetic_procedures(plan_id):
    plan = CATALOGUE.plan(plan_id)
    assert plan.timely_filing_days > 0
    for code in ("15780", "15877"):  # dermabrasion, suction lipectomy
        assert plan.excludes(code), code
        assert CATALOGUE.category_of(code) == "outpatient_surgery"
    for code in ("99213", "99395", "99284", "29881"):
        assert not plan.excludes(code), code


def test_exclusions_and_filing_limits_vary_by_plan():
    assert CATALOGUE.plan("silver-hmo-2026").excludes("15823")
    assert not CATALOGUE.plan("gold-ppo-2026").excludes("15823")  # functional blepharoplasty is covered
    assert CATALOGUE.plan("silver-hmo-2026").timely_filing_days == 90
    assert CATALOGUE.plan("gold-ppo-2026").timely_filing_days == 365


def test_the_ppo_pays_out_of_network_at_its_own_coinsurance():
    plan = CATALOGUE.plan("gold-ppo-2026")
    assert plan.network_type == "PPO"
    assert all(plan.covers_out_of_network(category) for category in CATALOGUE.categories)
    assert (plan.coinsurance_percent, plan.out_of_network.coinsurance_percent) == (20, 50)


@pytest.mark.parametrize("plan_id", PLAN_IDS)
def test_advanced_imaging_and_major_surgery_need_prior_authorization(plan_id):
    plan = CATALOGUE.plan(plan_id)
    for code in ("72148", "73721", "78815", "27447", "29881", "E0601"):
        assert plan.requires_prior_authorization(code), code
    for code in ("99213", "99284", "99395", "80053"):
        assert not plan.requires_prior_authorization(code), code


def test_prior_authorization_lists_vary_by_plan():
    assert CATALOGUE.plan("silver-hmo-2026").requires_prior_authorization("70450")
    assert not CATALOGUE.plan("silver-epo-2026").requires_prior_authorization("70450")
    assert not CATALOGUE.plan("platinum-epo-2026").requires_prior_authorization("95810")
    assert CATALOGUE.plan("bronze-hmo-hsa-2026").requires_prior_authorization("43239")


def test_hsa_plan_pays_only_preventive_and_telehealth_before_the_deductible():
    plan = CATALOGUE.plan("bronze-hmo-hsa-2026")
    before = {c for c, s in plan.cost_sharing.items() if not s.deductible_applies}
    assert before == {"preventive", "telehealth"}


def test_procedure_codes_map_to_categories():
    assert CATALOGUE.category_of("99213") == "primary_care"
    assert CATALOGUE.category_of(" e0601 ") == "durable_medical_equipment"
    assert CATALOGUE.category_of("00000") is None
    assert CATALOGUE.is_known_procedure("99284")
    assert not CATALOGUE.is_known_procedure("ABCDE")


def test_unknown_plan_raises_a_key_error_naming_the_plan():
    with pytest.raises(UnknownPlanError) as raised:
        CATALOGUE.plan("diamond-ppo-2026")
    assert raised.value.plan_id == "diamond-ppo-2026"


def test_catalogue_is_loaded_once_and_cannot_be_mutated():
    assert load_catalogue() is CATALOGUE
    with pytest.raises(TypeError):
        CATALOGUE.plans["x"] = CATALOGUE.plan("gold-hmo-2026")  # type: ignore[index]
    with pytest.raises(ValidationError):
        CATALOGUE.plan("gold-hmo-2026").coinsurance_percent = 0  # type: ignore[misc]


def test_published_json_keeps_money_as_two_place_strings():
    dumped = CATALOGUE.plan("platinum-epo-2026").model_dump(mode="json")
    assert dumped["deductible"] == {"individual": "0.00", "family": "0.00"}
    assert dumped["cost_sharing"]["emergency_room"] == {"copay": "250.00", "deductible_applies": False}
    assert dumped["prior_authorization_codes"] == sorted(dumped["prior_authorization_codes"])


def _with(plan_id, mutate):
    doc = copy.deepcopy(PLANS_DOC)
    mutate(next(p for p in doc["plans"] if p["id"] == plan_id))
    return doc


BROKEN = {
    "oop over the ACA cap": _with("bronze-epo-2026", lambda p: p["out_of_pocket_max"].update(individual="10600.01")),
    "family oop over the ACA cap": _with("bronze-epo-2026", lambda p: p["out_of_pocket_max"].update(family="21300.00")),
    "deductible above oop": _with("gold-hmo-2026", lambda p: p["deductible"].update(individual="8000.00")),
    "preventive copay": _with("gold-hmo-2026", lambda p: p["cost_sharing"]["preventive"].update(copay="5.00")),
    "missing category": _with("gold-hmo-2026", lambda p: p["cost_sharing"].pop("lab")),
    "coinsurance without deductible": _with(
        "gold-hmo-2026", lambda p: p["cost_sharing"].update(lab={"copay": None, "deductible_applies": False})
    ),
    "prior auth on an emergency code": _with("gold-hmo-2026", lambda p: p["prior_authorization_codes"].append("99284")),
    "prior auth on an unknown code": _with("gold-hmo-2026", lambda p: p["prior_authorization_codes"].append("ZZZZZ")),
    "no out-of-network emergencies": _with(
        "silver-hmo-2026", lambda p: p["out_of_network"].update(covered_categories=[])
    ),
    "HSA copay before deductible": _with(
        "bronze-hmo-hsa-2026", lambda p: p["cost_sharing"]["primary_care"].update(deductible_applies=False)
    ),
    "HSA oop above the HDHP limit": _with(
        "bronze-hmo-hsa-2026", lambda p: p["out_of_pocket_max"].update(individual="9000.00")
    ),
    "sub-cent money": _with("gold-hmo-2026", lambda p: p["deductible"].update(individual="1500.001")),
    "money as a float": _with("gold-hmo-2026", lambda p: p["deductible"].update(individual=0.1)),
    "duplicate id": _with("gold-hmo-2026", lambda p: p.update(id="silver-hmo-2026")),
    "unknown network type": _with("gold-hmo-2026", lambda p: p.update(network_type="POS")),
    "no filing limit": _with("gold-hmo-2026", lambda p: p.pop("timely_filing_days")),
    "zero filing limit": _with("gold-hmo-2026", lambda p: p.update(timely_filing_days=0)),
    "exclusion of an unknown code": _with("gold-hmo-2026", lambda p: p["excluded_procedure_codes"].append("ZZZZZ")),
    "exclusion of preventive care": _with("gold-hmo-2026", lambda p: p["excluded_procedure_codes"].append("99395")),
    "exclusion of emergency care": _with("gold-hmo-2026", lambda p: p["excluded_procedure_codes"].append("99284")),
    "excluded and authorized": _with("gold-hmo-2026", lambda p: p["excluded_procedure_codes"].append("29881")),
    "HMO covering more than emergencies": _with(
        "gold-hmo-2026", lambda p: p["out_of_network"].update(covered_categories=["emergency_room", "lab"])
    ),
    "HMO with an out-of-network coinsurance": _with(
        "gold-hmo-2026", lambda p: p["out_of_network"].update(coinsurance_percent=50)
    ),
    "PPO without an out-of-network coinsurance": _with(
        "gold-ppo-2026", lambda p: p["out_of_network"].pop("coinsurance_percent")
    ),
    "out-of-network coinsurance over 100": _with(
        "gold-ppo-2026", lambda p: p["out_of_network"].update(coinsurance_percent=101)
    ),
    "out-of-network coinsurance below in-network": _with(
        "gold-ppo-2026", lambda p: p["out_of_network"].update(coinsurance_percent=10)
    ),
}


@pytest.mark.parametrize("doc", BROKEN.values(), ids=BROKEN.keys())
def test_loader_refuses_a_catalogue_that_breaks_a_rule(doc):
    with pytest.raises(ValueError):
        parse_catalogue(doc, PROCEDURES_DOC)


def test_the_seeded_files_parse_cleanly():
    assert parse_catalogue(copy.deepcopy(PLANS_DOC), PROCEDURES_DOC) == CATALOGUE
