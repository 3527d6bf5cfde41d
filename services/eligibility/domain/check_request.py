"""An eligibility inquiry and the checks a payer makes before answering it.

The codes mirror the X12 271 AAA reject reasons (58 invalid birth date,
60 birth date after service date, 62 outside the inquiry period, 63 service date
in the future) so that a 270/271 front end can map them one to one.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date

from pydantic import BaseModel, ConfigDict

# CAQH CORE requires answers from 12 months back to the end of the current month;
# 24 months back also covers claims still within a generous timely-filing limit.
INQUIRY_MONTHS_BACK = 24
MAX_PROCEDURE_CODES = 99  # the 270's EQ loop repeats at most 99 times


class CheckRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    member_id: str
    date_of_birth: date
    date_of_service: date
    procedure_codes: tuple[str, ...] = ()
    provider_npi: str | None = None


class Problem(BaseModel):
    """One validation failure; loc is the field path in the request body ("procedure_codes.2")."""

    model_config = ConfigDict(frozen=True)

    loc: str
    code: str
    message: str


def inquiry_window(today: date, months_back: int = INQUIRY_MONTHS_BACK) -> tuple[date, date]:
    """The first and last date of service this payer answers for, both inclusive."""
    return _months_before(today, months_back), today.replace(day=monthrange(today.year, today.month)[1])


def validate_check_request(request: CheckRequest, today: date) -> list[Problem]:
    problems: list[Problem] = []
    dob, dos = request.date_of_birth, request.date_of_service
    if dob > today:
        problems.append(
            Problem(loc="date_of_birth", code="date_of_birth_in_future", message="date_of_birth is in the future")
        )
    if dos < dob:
        problems.append(
            Problem(
                loc="date_of_service",
                code="date_of_service_before_birth",
                message="date_of_service is before date_of_birth",
            )
        )
    earliest, latest = inquiry_window(today)
    if dos < earliest:
        problems.append(
            Problem(
                loc="date_of_service",
                code="date_of_service_too_old",
                message=f"date_of_service must be on or after {earliest} ({INQUIRY_MONTHS_BACK} months back)",
            )
        )
    if dos > latest:
        problems.append(
            Problem(
                loc="date_of_service",
                code="date_of_service_in_future",
                message=f"date_of_service must be on or before {latest} (end of the current month)",
            )
        )
    if len(request.procedure_codes) > MAX_PROCEDURE_CODES:
        problems.append(
            Problem(
                loc="procedure_codes",
                code="too_many_procedure_codes",
                message=f"at most {MAX_PROCEDURE_CODES} procedure codes per check",
            )
        )
    # Unknown codes are answered per service, never refused; only an empty entry is malformed.
    for index, code in enumerate(request.procedure_codes):
        if not code.strip():
            problems.append(
                Problem(loc=f"procedure_codes.{index}", code="procedure_code_blank", message="procedure code is blank")
            )
    return problems


def _months_before(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    last_day = monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last_day))
