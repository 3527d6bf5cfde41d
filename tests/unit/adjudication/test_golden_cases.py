"""Golden adjudication cases (tests/golden/adjudication/cases/*.json), worked out by hand.

Each case is a sequence of claims decided in order against one ledger, with what every
line must be allowed, cost the member and be paid, and the accumulators after each claim.
The expected values come from docs/adjudication-rules.md and refdata/ by hand (each case
writes its arithmetic down); nothing here recomputes them.

Two kinds of test:
- the cases themselves: well-formed claims, lines that balance, PR adjustments equal to
  the cost sharing, accumulator moves equal to the lines' cost sharing, every rule of the
  spec covered. These run always.
- the engine (services/adjudication/domain/engine.py) decides every case and must match
  every expected field exactly. Skipped while the engine cannot be imported.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import pytest

from contracts.events.claims import ClaimReceived
from refdata import codes
from refdata.plans import load_catalogue

CASES_DIR = Path(__file__).resolve().parents[2] / "golden" / "adjudication" / "cases"
CASES = sorted((json.loads(path.read_text(encoding="utf-8")) for path in CASES_DIR.glob("*.json")),
               key=lambda case: case["id"])
IDS = [case["id"] for case in CASES]

D = Decimal
ZERO = D("0.00")
MONEY_FIELDS = ("allowed_amount", "deductible", "copay", "coinsurance", "paid_amount", "patient_responsibility")
PR_CARC_FIELD = {"1": "deductible", "3": "copay", "2": "coinsurance"}
DENIAL_CARCS = {"18", "26", "27", "29", "31", "97", "197", "204", "242"}

# Every rule of docs/adjudication-rules.md, and every modifier it gives a meaning to,
# has at least one case.
REQUIRED_RULES = {
    "coverage.unknown_member", "coverage.birth_date", "coverage.before_start", "coverage.after_end",
    "coverage.plan_of_period", "timely_filing", "duplicate.earlier_claim", "duplicate.same_claim",
    "duplicate.earlier_denied", "duplicate.reversed", "covered.excluded", "covered.not_on_schedule",
    "network.hmo_out_of_network", "network.epo_out_of_network", "network.emergency_category",
    "network.emergency_place_of_service", "network.ppo_out_of_network", "network.in_network",
    "auth.missing", "auth.n54_organization", "auth.n54_window", "auth.n54_units", "auth.n54_named",
    "auth.used", "auth.order", "bundling.ptp", "bundling.modifier_bypass", "bundling.indicator_0",
    "bundling.column1_denied", "pend.unlisted", "pend.high_charge", "pricing.by_report",
    "pricing.modifier_26", "pricing.modifier_tc", "pricing.pctc_other_ignored", "pricing.modifier_50",
    "pricing.modifier_51", "pricing.multiple_procedures", "pricing.units", "pricing.charge_below_schedule",
    "benefits.deductible", "benefits.family_deductible", "benefits.copay", "benefits.copay_after_deductible",
    "benefits.telehealth", "benefits.preventive", "benefits.coinsurance", "benefits.out_of_network_coinsurance",
    "benefits.oop_individual", "benefits.oop_family", "claim.replacement", "claim.void", "claim.applied_once",
}
REQUIRED_MODIFIERS = {"26", "TC", "50", "51", "59", "XE", "XS", "XP", "XU"}
REQUIRED_CARCS = {"18", "26", "27", "29", "31", "45", "97", "197", "204", "242", "1", "2", "3"}


def _steps():
    for case in CASES:
        for index, step in enumerate(case["claims"]):
            yield case, index, step


def _lines_by_number(step):
    return {line["line_number"]: line for line in step["claim"]["lines"]}


def _money(value) -> Decimal:
    assert isinstance(value, str), f"money must be a decimal string, got {value!r}"
    amount = D(value)
    assert amount == amount.quantize(D("0.01")) and amount >= 0, value
    return amount


# ------------------------------------------------------------------ the cases themselves


def test_there_are_enough_cases():
    assert len(CASES) >= 45
    assert len(set(IDS)) == len(IDS)


def test_every_rule_and_modifier_of_the_spec_has_a_case():
    rules = {rule for case in CASES for rule in case["rules"]}
    assert REQUIRED_RULES <= rules, sorted(REQUIRED_RULES - rules)
    modifiers = {m for _, _, step in _steps() for line in step["claim"]["lines"] for m in line["modifiers"]}
    assert REQUIRED_MODIFIERS <= modifiers, sorted(REQUIRED_MODIFIERS - modifiers)
    carcs = {adj["carc"] for _, _, step in _steps() for line in step["expected"]["lines"] or []
             for adj in line["adjustments"]}
    assert REQUIRED_CARCS <= carcs, sorted(REQUIRED_CARCS - carcs)
    rarcs = {adj["rarc"] for _, _, step in _steps() for line in step["expected"]["lines"] or []
             for adj in line["adjustments"]} | {
        step["expected"]["info_request"]["rarc"] for _, _, step in _steps() if step["expected"]["info_request"]}
    assert {"N54", "N350", "M127"} <= rarcs


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_case_is_described_and_refers_to_known_reference_data(case):
    catalogue = load_catalogue()
    assert case["rules"] and case["description"] and case["arithmetic"]
    assert all(isinstance(line, str) and line for line in case["arithmetic"])
    assert case["plan_id"] in catalogue.plans
    assert set(case["contracted_plan_ids"]) <= set(catalogue.plans)
    if case["member"] is not None:
        for period in case["member"]["periods"]:
            assert period["plan_id"] in catalogue.plans
    for authorization in case["authorizations"]:
        assert authorization["approved_units"] >= authorization["used_units"] >= 0
        assert all(codes.is_known_procedure_code(c) for c in authorization["procedure_codes"])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_claims_are_valid_claim_received_payloads(case):
    for step in case["claims"]:
        claim = step["claim"]
        ClaimReceived.model_validate(claim)
        assert _money(claim["total_charge"]) == sum((_money(l["charge_amount"]) for l in claim["lines"]), ZERO)
        assert claim["organization_id"] == case["organization_id"]
        assert codes.is_valid_npi(claim["billing_provider"]["npi"]) and codes.is_valid_npi(claim["rendering_provider_npi"])
        assert all(codes.is_billable_diagnosis_code(dx) for dx in claim["diagnosis_codes"])
        numbers = [line["line_number"] for line in claim["lines"]]
        assert numbers == list(range(1, len(numbers) + 1))
        for line in claim["lines"]:
            assert codes.is_known_procedure_code(line["procedure_code"]), line["procedure_code"]
            assert all(codes.is_modifier_format(m) for m in line["modifiers"])
            assert codes.is_known_place_of_service(line["place_of_service"])
            assert datetime.fromisoformat(claim["received_at"]).date() >= date.fromisoformat(line["date_of_service"])
        if claim["frequency_code"] in ("7", "8"):
            earlier = [s["claim"]["claim_id"] for s in case["claims"][: case["claims"].index(step)]]
            assert claim["original_claim_id"] in earlier


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_expected_lines_balance(case):
    for step in case["claims"]:
        expected = step["expected"]
        if expected["lines"] is None:
            continue
        charges = {n: _money(line["charge_amount"]) for n, line in _lines_by_number(step).items()}
        assert sorted(line["line_number"] for line in expected["lines"]) == sorted(charges)
        for line in expected["lines"]:
            where = f"{step['claim']['claim_id']} line {line['line_number']}"
            charge = charges[line["line_number"]]
            amount = {field: _money(line[field]) for field in MONEY_FIELDS}
            adjustments = line["adjustments"]
            assert all(_money(adj["amount"]) > 0 for adj in adjustments), f"{where}: zero adjustments are left out"
            assert charge == amount["paid_amount"] + sum((_money(a["amount"]) for a in adjustments), ZERO), where
            assert amount["patient_responsibility"] == amount["deductible"] + amount["copay"] + amount["coinsurance"], where
            assert amount["paid_amount"] == amount["allowed_amount"] - amount["patient_responsibility"], where
            pr = {adj["carc"]: _money(adj["amount"]) for adj in adjustments if adj["group"] == "PR"}
            assert set(pr) <= set(PR_CARC_FIELD), where
            for carc, field in PR_CARC_FIELD.items():
                assert pr.get(carc, ZERO) == amount[field], f"{where}: PR-{carc} vs {field}"
            co = [adj for adj in adjustments if adj["group"] == "CO"]
            denials = [adj for adj in co if adj["carc"] in DENIAL_CARCS]
            if denials:
                assert len(adjustments) == 1 and _money(denials[0]["amount"]) == charge, where
                assert all(amount[field] == 0 for field in MONEY_FIELDS), where
            else:
                co45 = sum((_money(adj["amount"]) for adj in co if adj["carc"] == "45"), ZERO)
                assert [adj["carc"] for adj in co] in ([], ["45"]), where
                assert co45 == charge - amount["allowed_amount"], where
                assert amount["allowed_amount"] <= charge, where


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_expected_outcomes_fit_their_lines(case):
    for step in case["claims"]:
        expected = step["expected"]
        if expected["outcome"] is None:  # a void: only its effect on the ledger is pinned
            assert step["claim"]["frequency_code"] == "8"
            continue
        assert (expected["outcome"] == "info_requested") is (expected["info_request"] is not None)
        if expected["outcome"] == "info_requested":
            assert expected["lines"] is None
            assert expected["info_request"]["carc"] == "16"
            assert expected["info_request"]["rarc"] in {"N350", "M127"}
            continue
        denied = [any(adj["carc"] in DENIAL_CARCS for adj in line["adjustments"]) for line in expected["lines"]]
        assert expected["outcome"] == ("denied" if all(denied) else "processed")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_accumulators_move_by_the_lines_cost_sharing(case):
    """Deductible met moves by the lines' deductible, out-of-pocket by their patient
    responsibility; a replacement or void first takes back its original's amounts; a pend
    moves nothing. For the member and, on a family policy, for the family."""
    before = case["accumulators_before"]
    has_family = case["member"] is not None and case["member"]["family_id"] is not None
    assert (before["family"] is not None) is has_family
    current = {"member": {k: _money(v) for k, v in before["member"].items()}}
    if has_family:
        current["family"] = {k: _money(v) for k, v in before["family"].items()}
    effect: dict[str, tuple[Decimal, Decimal]] = {}
    for step in case["claims"]:
        claim, expected = step["claim"], step["expected"]
        delta_ded, delta_oop = ZERO, ZERO
        if claim["frequency_code"] in ("7", "8"):
            back_ded, back_oop = effect.pop(claim["original_claim_id"])
            delta_ded, delta_oop = -back_ded, -back_oop
        if claim["frequency_code"] != "8" and expected["outcome"] != "info_requested":
            ded = sum((_money(line["deductible"]) for line in expected["lines"]), ZERO)
            oop = sum((_money(line["patient_responsibility"]) for line in expected["lines"]), ZERO)
            previous = effect.get(claim["claim_id"], (ZERO, ZERO))  # a claim decided again (version 2)
            effect[claim["claim_id"]] = (ded, oop)
            delta_ded += ded - previous[0]
            delta_oop += oop - previous[1]
        for tier in current:
            current[tier] = {"deductible_met": current[tier]["deductible_met"] + delta_ded,
                             "out_of_pocket_met": current[tier]["out_of_pocket_met"] + delta_oop}
            after = {k: _money(v) for k, v in expected["accumulators_after"][tier].items()}
            assert after == current[tier], f"{claim['claim_id']} {tier}"
        if not has_family:
            assert expected["accumulators_after"]["family"] is None


# ------------------------------------------------------------------ the engine


def _engine() -> SimpleNamespace:
    try:
        from services.adjudication.domain import engine
        from services.adjudication.domain.coverage import CoveragePeriod, MemberCoverage
        from services.adjudication.domain.engine import (
            Authorization,
            DecisionInputs,
            Ledger,
            Reference,
            apply_decision,
            decide,
        )
    except ImportError as error:
        pytest.skip(f"the adjudication engine is not there yet: {error}")
    return SimpleNamespace(
        Authorization=Authorization, DecisionInputs=DecisionInputs, Ledger=Ledger, apply_decision=apply_decision,
        decide=decide, CoveragePeriod=CoveragePeriod, MemberCoverage=MemberCoverage, reference=_reference(Reference),
        # A void (8) may have no decision of its own: the engine then gives its original's effect
        # back with apply_void(ledger, claim, adjudication_id).
        apply_void=getattr(engine, "apply_void", None), adjudication_id_for=getattr(engine, "adjudication_id_for", None),
    )


@cache
def _reference(reference_class):
    return reference_class.load()


def _member(engine, raw):
    if raw is None:
        return None
    periods = tuple(
        engine.CoveragePeriod(plan_id=p["plan_id"], start=date.fromisoformat(p["start"]),
                              end=date.fromisoformat(p["end"]) if p["end"] else None)
        for p in raw["periods"])
    return engine.MemberCoverage(member_id=raw["member_id"], date_of_birth=date.fromisoformat(raw["date_of_birth"]),
                                 periods=periods, version=1, family_id=raw["family_id"])


def _opening_ledger(engine, case, member_id):
    before = case["accumulators_before"]
    family = case["member"]["family_id"] if case["member"] else None
    ledger = engine.Ledger.empty(family or member_id).with_opening_balance(
        before["year"], member_id, D(before["member"]["deductible_met"]), D(before["member"]["out_of_pocket_met"]),
        family_deductible_met=D(before["family"]["deductible_met"]) if before["family"] else None,
        family_out_of_pocket_met=D(before["family"]["out_of_pocket_met"]) if before["family"] else None,
    )
    for authorization in case["authorizations"]:
        if authorization["used_units"]:
            ledger = ledger.with_authorization_used(authorization["authorization_id"], authorization["used_units"])
    return ledger


def _authorizations(engine, case):
    return tuple(
        engine.Authorization(
            authorization_id=a["authorization_id"], member_id=a["member_id"], organization_id=a["organization_id"],
            procedure_codes=frozenset(a["procedure_codes"]), approved_units=a["approved_units"],
            start_date=date.fromisoformat(a["start_date"]), end_date=date.fromisoformat(a["end_date"]))
        for a in case["authorizations"])


def _payload(claim):
    """The claim as claim.received carries it: JSON values, absent optional fields left out."""
    return {key: value for key, value in claim.items() if value is not None}


def _adjustments(adjustments):
    return sorted((a["group"], a["carc"], a["rarc"], D(a["amount"])) for a in adjustments)


def _check_decision(decision, step, where):
    expected = step["expected"]
    assert decision.outcome == expected["outcome"], where
    if expected["info_request"] is None:
        assert decision.info_request is None, where
    else:
        info = decision.info_request
        assert info is not None, where
        assert (info.carc, info.rarc) == (expected["info_request"]["carc"], expected["info_request"]["rarc"]), where
        if "line_numbers" in expected["info_request"]:
            assert sorted(info.line_numbers) == sorted(expected["info_request"]["line_numbers"]), where
    if expected["lines"] is None:
        return
    actual = {line.line_number: line for line in decision.lines}
    assert sorted(actual) == sorted(line["line_number"] for line in expected["lines"]), where
    for want in expected["lines"]:
        got = actual[want["line_number"]]
        at = f"{where} line {want['line_number']}"
        for field in MONEY_FIELDS:
            assert getattr(got, field) == D(want[field]), f"{at}: {field}"
        got_adjustments = _adjustments(a.model_dump() for a in got.adjustments)
        assert got_adjustments == _adjustments(want["adjustments"]), f"{at}: adjustments"
        assert got.authorization_id == want.get("authorization_id"), f"{at}: authorization"
    totals = decision.totals
    assert totals.allowed == sum((D(line["allowed_amount"]) for line in expected["lines"]), ZERO), where
    assert totals.paid == sum((D(line["paid_amount"]) for line in expected["lines"]), ZERO), where
    assert totals.patient_responsibility == sum(
        (D(line["patient_responsibility"]) for line in expected["lines"]), ZERO), where


def _check_accumulators(ledger, case, step, member_id, where):
    year = case["accumulators_before"]["year"]
    after = step["expected"]["accumulators_after"]
    deductible, out_of_pocket = ledger.accumulators(year, member_id)
    assert (deductible, out_of_pocket) == (D(after["member"]["deductible_met"]),
                                           D(after["member"]["out_of_pocket_met"])), f"{where}: member"
    family = ledger.family_accumulators(year)
    if after["family"] is None:
        # An individual policy: no family accumulators, or the policy's total, which is the member's own.
        assert family is None or tuple(family) == (deductible, out_of_pocket), f"{where}: family"
    else:
        assert family is not None, f"{where}: family"
        assert tuple(family) == (D(after["family"]["deductible_met"]),
                                 D(after["family"]["out_of_pocket_met"])), f"{where}: family"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_engine_decides_the_case_as_worked_out_by_hand(case):
    engine = _engine()
    member = _member(engine, case["member"])
    member_id = case["claims"][0]["claim"]["member_id"]
    ledger = _opening_ledger(engine, case, member_id)
    authorizations = _authorizations(engine, case)
    for index, step in enumerate(case["claims"]):
        claim = _payload(step["claim"])
        where = f"{case['id']} claim {index + 1} ({claim['claim_id']})"
        inputs = engine.DecisionInputs(
            member=member, contracted_plan_ids=frozenset(case["contracted_plan_ids"]),
            authorizations=authorizations, ledger=ledger, documentation_received=step["documentation_received"])
        version = step.get("claim_version", 1)
        if claim["frequency_code"] == "8" and engine.apply_void is not None:
            adjudication_id = engine.adjudication_id_for(claim["claim_id"], version)
            ledger = engine.apply_void(ledger, claim, adjudication_id)
            _check_accumulators(ledger, case, step, member_id, where)
            continue
        adjudicated_at = datetime.fromisoformat(claim["received_at"]).astimezone(UTC) + timedelta(hours=1)
        decision = engine.decide(claim, inputs, engine.reference, claim_version=version, adjudicated_at=adjudicated_at)
        if step["expected"]["outcome"] is not None:
            _check_decision(decision, step, where)
        ledger = engine.apply_decision(ledger, decision, claim)
        _check_accumulators(ledger, case, step, member_id, where)
        if step.get("apply_twice"):
            ledger = engine.apply_decision(ledger, decision, claim)
            _check_accumulators(ledger, case, step, member_id, f"{where} (applied again)")


def test_cases_are_grouped_by_rule_family():
    families = defaultdict(int)
    for case in CASES:
        families[case["id"].split("-")[0]] += 1
    assert set(families) == {"coverage", "timely", "duplicate", "covered", "network", "auth", "bundling",
                             "pricing", "pend", "benefits", "claim"}
