from datetime import date

import pytest

from services.eligibility.domain import CheckRequest, inquiry_window, validate_check_request

TODAY = date(2026, 5, 14)
DOB = date(1984, 7, 19)


def request(dos=TODAY, dob=DOB, codes=()):
    return CheckRequest(member_id="M100", date_of_birth=dob, date_of_service=dos, procedure_codes=codes)


def codes_of(problems):
    return [(p.loc, p.code) for p in problems]


def test_an_ordinary_request_has_no_problems():
    assert validate_check_request(request(codes=("99213", "NOT-A-CODE")), TODAY) == []


@pytest.mark.parametrize(
    "dos,ok",
    [
        (date(2024, 5, 14), True),  # exactly 24 months back
        (date(2024, 5, 13), False),
        (date(2026, 5, 31), True),  # end of the current month
        (date(2026, 6, 1), False),
    ],
)
def test_date_of_service_must_fall_in_the_inquiry_window(dos, ok):
    problems = validate_check_request(request(dos=dos), TODAY)
    assert (problems == []) is ok
    if not ok:
        assert problems[0].loc == "date_of_service"
        assert problems[0].code in {"date_of_service_too_old", "date_of_service_in_future"}


@pytest.mark.parametrize(
    "today,window",
    [
        (date(2026, 2, 28), (date(2024, 2, 28), date(2026, 2, 28))),
        (date(2028, 2, 29), (date(2026, 2, 28), date(2028, 2, 29))),  # no Feb 29 two years back
        (date(2026, 12, 31), (date(2024, 12, 31), date(2026, 12, 31))),
        (date(2026, 1, 10), (date(2024, 1, 10), date(2026, 1, 31))),
    ],
)
def test_inquiry_window_handles_month_and_leap_year_ends(today, window):
    assert inquiry_window(today) == window


def test_every_problem_is_listed_at_once():
    bad = request(dos=date(2026, 5, 1), dob=date(2026, 6, 1), codes=("99213", " ", ""))
    assert codes_of(validate_check_request(bad, TODAY)) == [
        ("date_of_birth", "date_of_birth_in_future"),
        ("date_of_service", "date_of_service_before_birth"),
        ("procedure_codes.1", "procedure_code_blank"),
        ("procedure_codes.2", "procedure_code_blank"),
    ]


def test_too_many_procedure_codes():
    problems = validate_check_request(request(codes=("99213",) * 100), TODAY)
    assert codes_of(problems) == [("procedure_codes", "too_many_procedure_codes")]
    assert validate_check_request(request(codes=("99213",) * 99), TODAY) == []
