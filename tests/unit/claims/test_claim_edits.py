"""Business edits: each one can fail alone, and names its loc and code."""

from datetime import date, timedelta

import pytest

from claim_samples import CONTEXT, MEMBER, MEMBER_DOB, TODAY, body, context
from services.claims.domain import ClaimSubmission, CoveragePeriod, MemberFacts, validate_claim
from services.claims.domain.edits import EDITS


def claim_with(*, lines=None, **fields):
    """The clean claim with top-level fields replaced and lines patched by index."""
    raw = body(**fields)
    for index, changes in (lines or {}).items():
        raw["lines"][index].update(changes)
    return ClaimSubmission.model_validate(raw)


def found(claim, ctx=CONTEXT):
    return [(p.loc, p.code) for p in validate_claim(claim, ctx)]


def test_the_clean_claim_passes_every_edit():
    assert validate_claim(claim_with(), CONTEXT) == []


ALWAYS_COVERED = MemberFacts("M-0001", MEMBER_DOB, (CoveragePeriod(date(1900, 1, 1)),))
"""Isolates the date edits from the coverage edit."""


def test_an_unknown_member_and_a_birth_date_mismatch_get_the_same_answer():
    # The edits must not tell a caller which member ids exist.
    unknown = validate_claim(claim_with(), context(member=None))
    mismatch = validate_claim(claim_with(patient_date_of_birth="1980-05-02"), CONTEXT)
    assert unknown == mismatch
    assert [(p.loc, p.code, p.message) for p in unknown] == [
        ("member_id", "member_not_found", "No member with this id and date of birth.")
    ]


def test_member_ids_are_normalised_by_the_request_model():
    assert claim_with(member_id="  m-0001 ").member_id == "M-0001"
    assert validate_claim(claim_with(member_id="m-0001"), CONTEXT) == []


def _day(days_before_today: int) -> str:
    return (TODAY - timedelta(days=days_before_today)).isoformat()


CASES = [
    # --- frequency code and the claim it corrects
    ("replacement without original", dict(frequency_code="7"), {},
     [("original_claim_id", "missing_original_claim_id")]),
    ("void without original", dict(frequency_code="8"), {}, [("original_claim_id", "missing_original_claim_id")]),
    ("original naming another claim", dict(original_claim_id="C-1"), {},
     [("original_claim_id", "unexpected_original_claim_id")]),
    # --- NPIs
    ("billing NPI check digit", dict(billing_provider={"npi": "1234567890", "tin": "123456789"}), {},
     [("billing_provider.npi", "invalid_npi")]),
    ("billing NPI too short", dict(billing_provider={"npi": "123456789", "tin": "123456789"}), {},
     [("billing_provider.npi", "invalid_npi")]),
    ("rendering NPI check digit", dict(rendering_provider_npi="1245319598"), {},
     [("rendering_provider_npi", "invalid_npi")]),
    ("rendering NPI not digits", dict(rendering_provider_npi="12453195AB"), {},
     [("rendering_provider_npi", "invalid_npi")]),
    # --- the submitting organisation
    ("billing NPI of another organisation", dict(billing_provider={"npi": "9876543213", "tin": "123456789"}), {},
     [("billing_provider.npi", "npi_not_in_organization")]),
    ("malformed TIN", dict(billing_provider={"npi": "1234567893", "tin": "12345"}), {},
     [("billing_provider.tin", "invalid_tin")]),
    ("TIN of another organisation", dict(billing_provider={"npi": "1234567893", "tin": "98-7654321"}), {},
     [("billing_provider.tin", "tin_not_in_organization")]),
    # --- diagnoses
    ("unknown ICD-10 code", dict(diagnosis_codes=["E11.9", "ZZZ.9"]), {},
     [("diagnosis_codes[1]", "invalid_diagnosis_code")]),
    ("non-billable header code", dict(diagnosis_codes=["E11", "I10"]), {},
     [("diagnosis_codes[0]", "non_billable_diagnosis_code")]),
    ("diagnosis listed twice (dotted and not)", dict(diagnosis_codes=["E11.9", "E119"]), {},
     [("diagnosis_codes[1]", "duplicate_diagnosis_code")]),
    # --- patient and member
    ("date of birth in the future", dict(patient_date_of_birth=(TODAY + timedelta(days=1)).isoformat()),
     {"member": None},
     [("patient_date_of_birth", "future_date_of_birth"),
      ("member_id", "member_not_found"),
      ("lines[0].date_of_service", "date_of_service_before_birth"),
      ("lines[1].date_of_service", "date_of_service_before_birth")]),
    ("date of birth does not match the member", dict(patient_date_of_birth="1980-05-02"), {},
     [("member_id", "member_not_found")]),
    ("member not covered on the date of service", {},
     {"member": MemberFacts("M-0001", MEMBER_DOB, (CoveragePeriod(date(2025, 1, 1), date(2026, 2, 28)),))},
     [("lines[0].date_of_service", "member_not_covered"), ("lines[1].date_of_service", "member_not_covered")]),
    ("member without any coverage", {}, {"member": MemberFacts("M-0001", MEMBER_DOB, ())},
     [("lines[0].date_of_service", "member_not_covered"), ("lines[1].date_of_service", "member_not_covered")]),
    # --- lines: codes
    ("unknown procedure code", dict(lines={1: {"procedure_code": "99499"}}), {},
     [("lines[1].procedure_code", "unknown_procedure_code")]),
    ("malformed procedure code", dict(lines={0: {"procedure_code": "ABC"}}), {},
     [("lines[0].procedure_code", "invalid_procedure_code")]),
    ("malformed modifier", dict(lines={0: {"modifiers": ["25", "2-"]}}), {},
     [("lines[0].modifiers[1]", "invalid_modifier")]),
    ("three-character modifier", dict(lines={1: {"modifiers": ["TCX"]}}), {},
     [("lines[1].modifiers[0]", "invalid_modifier")]),
    ("modifier repeated", dict(lines={0: {"modifiers": ["25", "25"]}}), {},
     [("lines[0].modifiers[1]", "duplicate_modifier")]),
    ("unknown place of service", dict(lines={1: {"place_of_service": "98"}}), {},
     [("lines[1].place_of_service", "unknown_place_of_service")]),
    # --- lines: diagnosis pointers
    ("pointer past the last diagnosis", dict(lines={0: {"diagnosis_pointers": [1, 3]}}), {},
     [("lines[0].diagnosis_pointers[1]", "diagnosis_pointer_out_of_range")]),
    ("pointer zero", dict(lines={1: {"diagnosis_pointers": [0]}}), {},
     [("lines[1].diagnosis_pointers[0]", "diagnosis_pointer_out_of_range")]),
    ("negative pointer", dict(lines={1: {"diagnosis_pointers": [-1]}}), {},
     [("lines[1].diagnosis_pointers[0]", "diagnosis_pointer_out_of_range")]),
    ("pointer repeated", dict(lines={0: {"diagnosis_pointers": [2, 2]}}), {},
     [("lines[0].diagnosis_pointers[1]", "duplicate_diagnosis_pointer")]),
    # --- lines: dates
    ("service tomorrow", dict(lines={1: {"date_of_service": (TODAY + timedelta(days=1)).isoformat()}}), {},
     [("lines[1].date_of_service", "future_date_of_service")]),
    ("filed one day too late", dict(lines={0: {"date_of_service": _day(366)}}), {"member": ALWAYS_COVERED},
     [("lines[0].date_of_service", "timely_filing_expired")]),
    ("shorter filing limit of the plan", dict(lines={0: {"date_of_service": _day(91)}}),
     {"timely_filing_days": 90, "member": ALWAYS_COVERED},
     [("lines[0].date_of_service", "timely_filing_expired")]),
    ("service before the patient was born", dict(lines={0: {"date_of_service": "1980-04-30"}}), {"member": ALWAYS_COVERED},
     [("lines[0].date_of_service", "timely_filing_expired"),
      ("lines[0].date_of_service", "date_of_service_before_birth")]),
    # --- duplicates
    ("same service twice on one claim", dict(lines={1: {"procedure_code": "99213", "modifiers": ["25"]}}), {},
     [("lines[1]", "duplicate_line")]),
    ("duplicate of an accepted claim", {}, {"duplicate_of_claim_id": "C-0042"}, [("", "duplicate_claim")]),
]


@pytest.mark.parametrize(("overrides", "context_overrides", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_edit(overrides, context_overrides, expected):
    assert found(claim_with(**overrides), context(**context_overrides)) == expected


def test_every_edit_has_a_failing_case():
    codes_tested = {code for *_, expected in CASES for _, code in expected}
    edits_with_a_case = {
        edit.__name__
        for edit in EDITS
        if any(p.code in codes_tested for p in _problems_of_edit(edit))
    }
    assert edits_with_a_case == {edit.__name__ for edit in EDITS}


def _problems_of_edit(edit):
    for _, overrides, context_overrides, _expected in CASES:
        yield from edit(claim_with(**overrides), context(**context_overrides))


@pytest.mark.parametrize(
    ("days_ago", "late"), [(0, False), (364, False), (365, False), (366, True)]
)
def test_timely_filing_boundary(days_ago, late):
    problems = found(claim_with(lines={0: {"date_of_service": _day(days_ago)}}), context(member=ALWAYS_COVERED))
    assert (("lines[0].date_of_service", "timely_filing_expired") in problems) is late


def test_coverage_boundaries_are_inclusive():
    member = MemberFacts("M-0001", MEMBER_DOB, (CoveragePeriod(date(2026, 3, 1), date(2026, 3, 1)),))
    assert found(claim_with(), context(member=member)) == []


def test_a_later_coverage_period_covers():
    member = MemberFacts(
        "M-0001",
        MEMBER_DOB,
        (CoveragePeriod(date(2024, 1, 1), date(2024, 12, 31)), CoveragePeriod(date(2026, 2, 1))),
    )
    assert found(claim_with(), context(member=member)) == []


def test_an_unknown_member_is_refused_and_no_coverage_is_assessed():
    claim = claim_with(patient_date_of_birth="1990-01-01")
    assert found(claim, context(member=None)) == [("member_id", "member_not_found")]


def test_coverage_is_not_disclosed_for_a_mismatched_date_of_birth():
    uncovered = MemberFacts("M-0001", MEMBER_DOB, ())
    claim = claim_with(patient_date_of_birth="1990-01-01")
    assert found(claim, context(member=uncovered)) == found(claim, context(member=None)) == [
        ("member_id", "member_not_found")
    ]


def test_messages_do_not_reveal_the_members_record():
    claim = claim_with(patient_date_of_birth="1990-01-01")
    (problem,) = validate_claim(claim, CONTEXT)
    assert "1980" not in problem.message and MEMBER_DOB.isoformat() not in problem.message


def test_tin_with_or_without_hyphen_matches_the_organisation():
    for tin in ("123456789", "12-3456789"):
        claim = claim_with(billing_provider={"npi": "1234567893", "tin": tin})
        assert found(claim, context(organization_tin="12-3456789")) == []


def test_malformed_billing_npi_is_not_also_reported_as_foreign():
    claim = claim_with(billing_provider={"npi": "1234567890", "tin": "123456789"})
    assert found(claim) == [("billing_provider.npi", "invalid_npi")]


@pytest.mark.parametrize("modifier", ["76", "77", "91", "59", "XU"])
def test_repeat_service_modifier_makes_a_line_distinct(modifier):
    claim = claim_with(lines={1: {"procedure_code": "99213", "modifiers": ["25", modifier]}})
    assert found(claim) == []


def test_duplicate_line_needs_the_same_date():
    claim = claim_with(lines={1: {"procedure_code": "99213", "modifiers": ["25"], "date_of_service": "2026-03-02"}})
    assert found(claim) == []


def test_duplicate_line_ignores_modifier_order():
    claim = claim_with(
        lines={0: {"modifiers": ["25", "59"]}, 1: {"procedure_code": "99213", "modifiers": ["59", "25"]}}
    )
    assert found(claim) == [("lines[1]", "duplicate_line")]


@pytest.mark.parametrize("frequency", ["7", "8"])
def test_a_correction_may_repeat_the_claim_it_corrects(frequency):
    claim = claim_with(frequency_code=frequency, original_claim_id="C-0042")
    assert found(claim, context(duplicate_of_claim_id="C-0042")) == []


def test_a_correction_still_may_not_duplicate_a_third_claim():
    claim = claim_with(frequency_code="7", original_claim_id="C-0042")
    assert found(claim, context(duplicate_of_claim_id="C-0099")) == [("", "duplicate_claim")]


def test_every_failure_is_reported_not_just_the_first():
    claim = claim_with(
        rendering_provider_npi="1111111111",
        diagnosis_codes=["E11", "NOPE"],
        lines={
            0: {"procedure_code": "99499", "modifiers": ["!!"], "place_of_service": "98",
                "diagnosis_pointers": [1, 5], "date_of_service": (TODAY + timedelta(days=3)).isoformat()},
            1: {"date_of_service": _day(400)},
        },
    )
    assert found(claim, context(duplicate_of_claim_id="C-7")) == [
        ("rendering_provider_npi", "invalid_npi"),
        ("diagnosis_codes[0]", "non_billable_diagnosis_code"),
        ("diagnosis_codes[1]", "invalid_diagnosis_code"),
        ("lines[0].procedure_code", "unknown_procedure_code"),
        ("lines[0].modifiers[0]", "invalid_modifier"),
        ("lines[0].place_of_service", "unknown_place_of_service"),
        ("lines[0].diagnosis_pointers[1]", "diagnosis_pointer_out_of_range"),
        ("lines[0].date_of_service", "future_date_of_service"),
        ("lines[1].date_of_service", "timely_filing_expired"),
        ("lines[1].date_of_service", "member_not_covered"),
        ("", "duplicate_claim"),
    ]


def test_problem_messages_are_human_readable():
    claim = claim_with(lines={0: {"procedure_code": "99499"}})
    (problem,) = validate_claim(claim, CONTEXT)
    assert "99499" in problem.message


def test_member_fixture_is_covered_today():
    assert MEMBER.covered_on(TODAY)


def test_context_for_another_member_is_a_caller_bug():
    with pytest.raises(ValueError):
        validate_claim(claim_with(member_id="M-0002"), CONTEXT)
