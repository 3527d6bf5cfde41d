"""A clean claim and context that pass every edit; tests change one thing at a time."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from services.claims.domain import ClaimSubmission, CoveragePeriod, EditContext, MemberFacts

TODAY = date(2026, 3, 10)
BILLING_NPI = "1234567893"
RENDERING_NPI = "1245319599"
ORG_TIN = "123456789"
MEMBER_DOB = date(1980, 5, 1)
RECEIVED_AT = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)

_BODY: dict[str, Any] = {
    "frequency_code": "1",
    "member_id": "M-0001",
    "patient_date_of_birth": "1980-05-01",
    "billing_provider": {"npi": BILLING_NPI, "tin": "12-3456789"},
    "rendering_provider_npi": RENDERING_NPI,
    "diagnosis_codes": ["E11.9", "I10"],
    "lines": [
        {
            "procedure_code": "99213",
            "modifiers": ["25"],
            "units": 1,
            "charge_amount": "150.00",
            "date_of_service": "2026-03-01",
            "place_of_service": "11",
            "diagnosis_pointers": [1, 2],
        },
        {
            "procedure_code": "83036",
            "modifiers": [],
            "units": 1,
            "charge_amount": "25.00",
            "date_of_service": "2026-03-01",
            "place_of_service": "11",
            "diagnosis_pointers": [1],
        },
    ],
}

MEMBER = MemberFacts(
    member_id="M-0001",
    date_of_birth=MEMBER_DOB,
    coverage=(CoveragePeriod(start=date(2026, 1, 1)),),
)

CONTEXT = EditContext(
    today=TODAY,
    organization_npis=frozenset({BILLING_NPI, "1003000126"}),
    organization_tin=ORG_TIN,
    member=MEMBER,
)


def body(**overrides: Any) -> dict[str, Any]:
    """A deep copy of the clean body with top-level fields replaced."""
    result = copy.deepcopy(_BODY)
    result.update(copy.deepcopy(overrides))
    return result


def submission(**overrides: Any) -> ClaimSubmission:
    return ClaimSubmission.model_validate(body(**overrides))


def context(**overrides: Any) -> EditContext:
    return replace(CONTEXT, **overrides)
