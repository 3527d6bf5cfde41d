import pytest

from claim_samples import body
from services.claims.domain import ClaimSubmission, claim_fingerprint


def fingerprint(raw):
    return claim_fingerprint(ClaimSubmission.model_validate(raw))


BASE = fingerprint(body())


def with_line(index, **changes):
    raw = body()
    raw["lines"][index].update(changes)
    return raw


def test_is_a_sha256_hex_digest():
    assert len(BASE) == 64 and int(BASE, 16) >= 0


@pytest.mark.parametrize(
    "raw",
    [
        body(),
        body(lines=list(reversed(body()["lines"]))),  # line order
        body(diagnosis_codes=["I10", "E11.9"]),  # diagnosis coding
        body(prior_authorization_id="PA-1"),
        body(frequency_code="7", original_claim_id="C-1"),
        with_line(0, charge_amount="150"),  # same amount, other spelling
        with_line(0, modifiers=["25"], place_of_service="22"),
    ],
)
def test_same_services_same_fingerprint(raw):
    assert fingerprint(raw) == BASE


@pytest.mark.parametrize(
    "raw",
    [
        body(member_id="M-0002"),
        body(billing_provider={"npi": "1003000126", "tin": "123456789"}),
        body(rendering_provider_npi="1003000126"),
        with_line(0, date_of_service="2026-03-02"),
        with_line(0, procedure_code="99214"),
        with_line(0, charge_amount="150.01"),
        with_line(0, units=2),
        with_line(0, modifiers=["25", "59"]),
        body(lines=body()["lines"][:1]),
    ],
)
def test_different_services_different_fingerprint(raw):
    assert fingerprint(raw) != BASE
