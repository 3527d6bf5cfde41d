"""Identity's request bodies: every string bounded and checked, every failure listed at once."""

import pytest
from pydantic import ValidationError

from infra.http.problems import validation_errors
from services.identity.models import MAX_CONTACT_EMAILS, MAX_NPIS, ClientIn, ProviderOrganizationIn

NPI = "1234567893"  # a valid check digit


def _org(**changes) -> dict:
    return {"name": "Clinic", "tin": "123456789", "npis": [NPI], "contact_emails": ["billing@clinic.example"]} | changes


def _errors(model, body: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(body)
    return {e["loc"]: e["code"] for e in validation_errors(list(raised.value.errors()))}


def test_a_valid_organisation_is_normalised():
    org = ProviderOrganizationIn.model_validate(_org(name="  Clinic  ", tin="12-3456789"))
    assert (org.name, org.tin) == ("Clinic", "123456789")


@pytest.mark.parametrize("tin", ["12345678", "1234567890", "12345678a", "١٢٣٤٥٦٧٨٩", "１２３４５６７８９",
                                 " 123456789", "000000000", "1" * 10_000])
def test_a_tin_is_nine_ascii_digits(tin):
    assert _errors(ProviderOrganizationIn, _org(tin=tin)).keys() == {"tin"}


@pytest.mark.parametrize("npi", ["1234567890", "123456789", "12345678931", "١٢٣٤٥٦٧٨٩٣", "１２３４５６７８９３", "9" * 10_000])
def test_an_npi_is_ten_ascii_digits_with_its_check_digit(npi):
    assert _errors(ProviderOrganizationIn, _org(npis=[NPI, npi])).keys() == {"npis[1]"}


@pytest.mark.parametrize("email", ["no-at-sign", "a@b", "a@@b.example", "a b@c.example", "é@clinic.example",
                                   "a@clïnic.example", "a\n@clinic.example", "a@clinic.exa\nmple", "a@clinic.example\x00", "a" * 65 + "@c.example",
                                   "a@" + "b" * 250 + ".example", ".a@clinic.example", "a@-clinic.example"])
def test_contact_emails_are_plain_ascii_addresses_of_bounded_length(email):
    assert _errors(ProviderOrganizationIn, _org(contact_emails=["ok@clinic.example", email])) == {
        "contact_emails[1]": "invalid_email" if len(email) <= 254 else "string_too_long"}


def test_lists_are_bounded():
    errors = _errors(ProviderOrganizationIn, _org(npis=[NPI] * (MAX_NPIS + 1),
                                                 contact_emails=["a@b.example"] * (MAX_CONTACT_EMAILS + 1)))
    assert errors == {"npis": "too_long", "contact_emails": "too_long"}
    assert _errors(ProviderOrganizationIn, _org(npis=[])) == {"npis": "too_short"}


@pytest.mark.parametrize("name, code", [("", "string_too_short"), ("   ", "string_too_short"),
                                        ("x" * 201, "string_too_long"), ("a\x00b", "control_character"),
                                        ("line\nbreak", "control_character"), (5, "string_type")])
def test_names_are_bounded_printable_text(name, code):
    assert _errors(ProviderOrganizationIn, _org(name=name)) == {"name": code}
    assert _errors(ClientIn, {"role": "reviewer", "name": name}) == {"name": code}


def test_every_failure_is_listed_at_once_and_unknown_fields_are_refused():
    errors = _errors(ProviderOrganizationIn, {"name": "", "tin": "1", "npis": ["1"], "contact_emails": ["x"],
                                              "organization_id": "chosen-by-caller"})
    assert errors == {"name": "string_too_short", "tin": "invalid_tin", "npis[0]": "invalid_npi",
                      "contact_emails[0]": "invalid_email", "organization_id": "extra_forbidden"}


@pytest.mark.parametrize("role", ["provider", "Operator", "", None, 1])
def test_a_client_role_is_reviewer_or_operator(role):
    assert _errors(ClientIn, {"role": role, "name": "Ops"}).keys() == {"role"}
