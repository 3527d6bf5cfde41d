"""Decision clocks (CMS-0057-F, by line of business) and auto-approval rules, without I/O."""

from datetime import UTC, date, datetime, timedelta

from services.authorizations.domain import DecisionStats, RuleInput, first_approving, load_clocks, load_rules
from services.authorizations.domain.request import (
    AuthorizationRequest,
    CoveragePeriod,
    MemberFacts,
    RequestContext,
    check_request,
)

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_expedited_is_72_hours_and_standard_7_calendar_days():
    clocks = load_clocks()
    assert clocks.due("expedited", T0, "individual") == T0 + timedelta(hours=72)
    assert clocks.due("standard", T0, "individual") == T0 + timedelta(days=7)
    assert clocks.due("standard", T0, None) == T0 + timedelta(days=7)


def test_an_exchange_plan_has_15_days_standard():
    clocks = load_clocks()
    assert clocks.due("standard", T0, "exchange") == T0 + timedelta(days=15)
    assert clocks.due("expedited", T0, "exchange") == T0 + timedelta(hours=72)


def test_a_shortened_clock_for_tests_replaces_every_line():
    clocks = load_clocks().shortened(None, 2)
    assert clocks.due("standard", T0, "exchange") == T0 + timedelta(seconds=2)
    assert clocks.due("expedited", T0, "individual") == T0 + timedelta(hours=72)


def _input(codes, diagnoses, units=1, stats=None):
    return RuleInput(tuple(codes), tuple(diagnoses), units, stats or {})


def test_imaging_with_a_qualifying_diagnosis_is_auto_approved():
    rule = first_approving(load_rules(), _input(["72148"], ["I10", "M54.16"]))
    assert rule is not None and rule.id == "imaging-lumbar-mri-radiculopathy"


def test_no_rule_without_the_diagnosis_or_beyond_its_units_or_for_an_uncovered_code():
    rules = load_rules()
    assert first_approving(rules, _input(["72148"], ["I10"])) is None
    assert first_approving(rules, _input(["72148"], ["M54.16"], units=2)) is None
    assert first_approving(rules, _input(["72148", "27447"], ["M54.16"])) is None
    assert first_approving(rules, _input([], ["M54.16"])) is None


def test_gold_carding_needs_95_percent_over_a_minimum_count():
    rules = load_rules()
    assert first_approving(rules, _input(["27447"], ["M17.11"], stats={"27447": DecisionStats(19, 1)})).id == "gold-card"
    assert first_approving(rules, _input(["27447"], ["M17.11"], stats={"27447": DecisionStats(18, 2)})) is None
    assert first_approving(rules, _input(["27447"], ["M17.11"], stats={"27447": DecisionStats(9, 0)})) is None


def _request(**overrides) -> AuthorizationRequest:
    body = dict(member_id="M1", date_of_birth="1980-02-03", requesting_provider_npi="1234567893",
                urgency="standard", procedure_codes=["73721"], diagnosis_codes=["M17.11"], units=2,
                start_date="2026-03-02", end_date="2026-05-31", clinical_notes="knee pain")
    body.update(overrides)
    return AuthorizationRequest.model_validate(body)


MEMBER = MemberFacts("M1", date(1980, 2, 3), (CoveragePeriod(date(2026, 1, 1), None, "silver-hmo-2026"),))
CONTEXT = RequestContext(date(2026, 3, 2), frozenset({"1234567893"}), MEMBER)


def test_a_good_request_passes():
    assert check_request(_request(), CONTEXT) == []


def test_unknown_member_and_wrong_birth_date_get_the_same_answer():
    unknown = check_request(_request(), RequestContext(CONTEXT.today, CONTEXT.organization_npis, None))
    mismatch = check_request(_request(date_of_birth="1980-02-04"), CONTEXT)
    assert unknown == mismatch == [{"loc": "member_id", "code": "member_not_found",
                                    "message": "No member with this id and date of birth."}]


def test_every_problem_is_named():
    problems = check_request(_request(procedure_codes=["7372", "99999"], diagnosis_codes=["M17", "XX"],
                                      start_date="2025-12-31", end_date="2025-12-01",
                                      requesting_provider_npi="1234567890"), CONTEXT)
    assert {(p["loc"], p["code"]) for p in problems} == {
        ("start_date", "member_not_covered"), ("requesting_provider_npi", "invalid_npi"),
        ("procedure_codes[0]", "invalid_procedure_code"), ("procedure_codes[1]", "unknown_procedure_code"),
        ("diagnosis_codes[0]", "non_billable_diagnosis_code"), ("diagnosis_codes[1]", "invalid_diagnosis_code"),
        ("end_date", "end_before_start"), ("start_date", "start_too_early"),
    }
