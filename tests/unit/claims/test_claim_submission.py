"""Structural checks: pydantic rejects the shape, every failure with its loc."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from claim_samples import body
from services.claims.domain import ClaimSubmission, problems_from_validation_errors


def problems_of(raw):
    with pytest.raises(ValidationError) as caught:
        ClaimSubmission.model_validate(raw)
    return {(p.loc, p.code) for p in problems_from_validation_errors(caught.value.errors())}


def with_line(**changes):
    raw = body()
    raw["lines"][0].update(changes)
    return raw


def without(raw, *path):
    *parents, last = path
    target = raw
    for key in parents:
        target = target[key]
    del target[last]
    return raw


def test_the_sample_is_well_formed():
    claim = ClaimSubmission.model_validate(body())
    assert claim.lines[0].charge_amount == Decimal("150.00")
    assert claim.billing_provider.npi == "1234567893"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (without(body(), "member_id"), ("member_id", "missing")),
        (without(body(), "billing_provider", "tin"), ("billing_provider.tin", "missing")),
        (without(body(), "rendering_provider_npi"), ("rendering_provider_npi", "missing")),
        (body(frequency_code="2"), ("frequency_code", "literal_error")),
        (body(frequency_code=1), ("frequency_code", "literal_error")),
        (body(member_id="   "), ("member_id", "string_too_short")),
        (body(patient_date_of_birth="05/01/1980"), ("patient_date_of_birth", "date_format")),
        (body(patient_date_of_birth=326246400), ("patient_date_of_birth", "date_format")),
        (body(patient_date_of_birth="1980-02-30"), ("patient_date_of_birth", "date_from_datetime_parsing")),
        (body(diagnosis_codes=[]), ("diagnosis_codes", "too_short")),
        (body(diagnosis_codes=["I10"] * 13), ("diagnosis_codes", "too_long")),
        (body(lines=[]), ("lines", "too_short")),
        (body(lines=body()["lines"][:1] * 51), ("lines", "too_long")),
        (body(surprise="x"), ("surprise", "extra_forbidden")),
        (with_line(units=0), ("lines[0].units", "greater_than")),
        (with_line(units=1000), ("lines[0].units", "less_than_equal")),
        (with_line(units="1"), ("lines[0].units", "int_type")),
        (with_line(units=1.5), ("lines[0].units", "int_type")),
        (with_line(charge_amount="0.00"), ("lines[0].charge_amount", "greater_than")),
        (with_line(charge_amount="-5.00"), ("lines[0].charge_amount", "money_format")),
        (with_line(charge_amount="12.345"), ("lines[0].charge_amount", "money_format")),
        (with_line(charge_amount=150.0), ("lines[0].charge_amount", "money_format")),
        (with_line(charge_amount="1e3"), ("lines[0].charge_amount", "money_format")),
        (with_line(modifiers=["25", "59", "LT", "RT", "XU"]), ("lines[0].modifiers", "too_long")),
        (with_line(diagnosis_pointers=[]), ("lines[0].diagnosis_pointers", "too_short")),
        (with_line(diagnosis_pointers=[1, 2, 1, 2, 1]), ("lines[0].diagnosis_pointers", "too_long")),
        (with_line(diagnosis_pointers=["1"]), ("lines[0].diagnosis_pointers[0]", "int_type")),
        (with_line(date_of_service="2026-03-01T10:00:00Z"), ("lines[0].date_of_service", "date_format")),
        (with_line(place_of_service=11), ("lines[0].place_of_service", "string_type")),
        (with_line(color="red"), ("lines[0].color", "extra_forbidden")),
    ],
)
def test_structural_problem(raw, expected):
    assert expected in problems_of(raw)


def test_every_structural_problem_is_listed():
    raw = body(frequency_code="9")
    raw["lines"][0].update(units=0, charge_amount="abc")
    del raw["lines"][1]["procedure_code"]
    assert problems_of(raw) == {
        ("frequency_code", "literal_error"),
        ("lines[0].units", "greater_than"),
        ("lines[0].charge_amount", "money_format"),
        ("lines[1].procedure_code", "missing"),
    }


def test_codes_are_trimmed_and_upper_cased():
    raw = body(diagnosis_codes=[" e119 "])
    raw["lines"][0].update(procedure_code=" g0438", modifiers=["tc"], diagnosis_pointers=[1])
    raw["lines"][1].update(diagnosis_pointers=[1])
    claim = ClaimSubmission.model_validate(raw)
    assert claim.diagnosis_codes == ["E119"]
    assert claim.lines[0].procedure_code == "G0438"
    assert claim.lines[0].modifiers == ["TC"]


def test_money_is_held_in_cents():
    claim = ClaimSubmission.model_validate(with_line(charge_amount="150.5"))
    assert claim.lines[0].charge_amount == Decimal("150.50")
    assert claim.model_dump(mode="json")["lines"][0]["charge_amount"] == "150.50"


def test_fastapi_body_prefix_is_dropped_from_loc():
    errors = [{"loc": ("body", "lines", 2, "diagnosis_pointers", 0), "type": "int_type", "msg": "bad"}]
    (problem,) = problems_from_validation_errors(errors)
    assert (problem.loc, problem.code, problem.message) == ("lines[2].diagnosis_pointers[0]", "int_type", "bad")
    assert problem.as_dict() == {"loc": "lines[2].diagnosis_pointers[0]", "code": "int_type", "message": "bad"}


def test_every_number_and_string_is_bounded():
    from pydantic import ValidationError

    from services.claims.domain import ClaimSubmission

    for mutate, loc in [
        (lambda b: b["lines"][0].update(diagnosis_pointers=[10**22]), ("lines", 0, "diagnosis_pointers", 0)),
        (lambda b: b.update(prior_authorization_id="A" * 65), ("prior_authorization_id",)),
        (lambda b: b.update(member_id="M" * 33), ("member_id",)),
        (lambda b: b["lines"][0].update(modifiers=["25"] * 5), ("lines", 0, "modifiers")),
        (lambda b: b["lines"][0].update(units=10**22), ("lines", 0, "units")),
    ]:
        raw = body()
        mutate(raw)
        with pytest.raises(ValidationError) as error:
            ClaimSubmission.model_validate(raw)
        assert loc in [e["loc"] for e in error.value.errors()]


def test_a_member_id_is_normalised():
    from services.claims.domain import ClaimSubmission

    assert ClaimSubmission.model_validate(body(member_id=" m0123456789 ")).member_id == "M0123456789"


def test_dates_take_ascii_digits_only():
    from pydantic import ValidationError

    from services.claims.domain import ClaimSubmission

    with pytest.raises(ValidationError):
        ClaimSubmission.model_validate(body(patient_date_of_birth="١٩٨٠-٠٢-٠٣"))
