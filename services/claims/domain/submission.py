"""The body of POST /v1/claims (and /v1/claims/validate), as a pydantic model.

The model checks shape only: required fields, JSON types, list sizes, numeric
ranges, date and money syntax. Whether a code exists, an NPI's check digit, dates
against today and the member: those are business edits (edits.py), reported with
their own machine codes, all at once.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from contracts.events.claims import FrequencyCode
from contracts.identifiers import normalize_member_id
from contracts.money import PositiveMoney

# ASCII digits only: `\d` also matches other scripts' digits, which int() accepts.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date_only(value: Any) -> Any:
    # pydantic's lax date also takes Unix timestamps and datetimes; the contract
    # says YYYY-MM-DD and nothing else.
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise PydanticCustomError("date_format", "must be a date written YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=10)]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
MemberId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32), AfterValidator(normalize_member_id)
]
"""Normalised here, so every edit, fingerprint and stored event sees one spelling of the member."""
DiagnosisPointer = Annotated[int, Field(strict=True, ge=-99, le=99)]
"""Bounded for shape only (a 23-digit integer cannot even be serialised); whether it
points into diagnosis_codes is the diagnosis_pointer edit's business."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BillingProvider(_Strict):
    npi: Identifier
    tin: Identifier


class ClaimLine(_Strict):
    procedure_code: Code
    modifiers: Annotated[list[Code], Field(max_length=4)] = []
    units: Annotated[int, Field(strict=True, gt=0, le=999)]
    charge_amount: PositiveMoney
    date_of_service: IsoDate
    place_of_service: Code
    diagnosis_pointers: Annotated[
        list[DiagnosisPointer], Field(min_length=1, max_length=4)
    ]
    """1-based positions in the claim's diagnosis_codes."""


class ClaimSubmission(_Strict):
    frequency_code: FrequencyCode
    original_claim_id: Text | None = None
    member_id: MemberId
    patient_date_of_birth: IsoDate
    billing_provider: BillingProvider
    rendering_provider_npi: Identifier
    diagnosis_codes: Annotated[list[Code], Field(min_length=1, max_length=12)]
    prior_authorization_id: Text | None = None
    lines: Annotated[list[ClaimLine], Field(min_length=1, max_length=50)]
