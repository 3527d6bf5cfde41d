"""The declared response models describe exactly what the routes send (they are not
validated per request: the hot path sends plain data)."""

from datetime import date

import pytest

from services.eligibility.api import member_view
from services.eligibility.api_models import CheckAnswer, CheckIn, MemberOut, PlanCatalogueOut
from services.eligibility.domain import Accumulators, evaluate
from services.eligibility.domain.check_request import MAX_PROCEDURE_CODES

from .support import CATALOGUE, check, enrolled, terminated

DOS = date(2026, 5, 14)
CODES = ("99213", "99284", "ZZZ99", "70450")


def answer(result) -> dict:
    return {"check_id": "c", **result.model_dump(mode="json"), "checked_at": "2026-05-14T10:00:00.000Z",
            "expires_at": "2026-05-15T10:00:00.000Z"}


@pytest.mark.parametrize("contracted", [None, frozenset(), frozenset({"silver-hmo-2026"})])
def test_an_active_answer_matches_the_model(contracted):
    member = enrolled("silver-hmo-2026", date(2026, 1, 1))
    acc = [Accumulators(member_id="M100", plan_year=2026, deductible_total="125.00", out_of_pocket_total="300.00")]
    body = answer(evaluate(check(DOS, *CODES), member, acc, CATALOGUE, contracted))
    assert CheckAnswer.model_validate(body).model_dump(mode="json") == body


def test_inactive_and_not_found_answers_match_the_model():
    member = terminated(enrolled("gold-hmo-2026", date(2026, 1, 1)), date(2026, 3, 31))
    for result in (evaluate(check(DOS, *CODES), member, [], CATALOGUE, None),
                   evaluate(check(DOS, *CODES), None, [], CATALOGUE, None)):
        body = answer(result)
        assert CheckAnswer.model_validate(body).model_dump(mode="json") == body


def test_the_member_view_matches_the_model():
    body = member_view(enrolled("gold-hmo-2026", date(2026, 1, 1)))
    assert MemberOut.model_validate(body).model_dump(mode="json") == body


def test_the_catalogue_renders_through_its_model():
    assert len(PlanCatalogueOut(plans=list(CATALOGUE.plans.values())).plans) == len(CATALOGUE.plans)


def test_the_check_model_leaves_the_procedure_code_limit_to_the_domain():
    # One over the 270's limit parses, so that the domain names the problem (too_many_procedure_codes).
    body = {"member_id": "M1", "date_of_birth": "1980-01-01", "date_of_service": "2026-01-01"}
    assert CheckIn.model_validate({**body, "procedure_codes": ["99213"] * (MAX_PROCEDURE_CODES + 1)})
    with pytest.raises(ValueError):
        CheckIn.model_validate({**body, "procedure_codes": ["99213"] * (MAX_PROCEDURE_CODES + 2)})
    with pytest.raises(ValueError):
        CheckIn.model_validate_json('{"member_id": "M1", "date_of_birth": 0, "date_of_service": "2026-01-01"}')
