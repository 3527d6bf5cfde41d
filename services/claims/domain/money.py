"""Money as the public contract writes it: a decimal string with two places."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

CENT = Decimal("0.01")
_MONEY_TEXT = re.compile(r"\d{1,9}(\.\d{1,2})?")


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money_text(amount: Decimal) -> str:
    return str(to_cents(amount))


def _parse_money(value: Any) -> Decimal:
    # Floats are refused on purpose: 0.1 + 0.2 has no place in a claim.
    if isinstance(value, str) and _MONEY_TEXT.fullmatch(value):
        return to_cents(Decimal(value))
    if isinstance(value, Decimal) and value.is_finite() and to_cents(value) == value:
        return to_cents(value)
    raise PydanticCustomError(
        "money_format",
        'must be a decimal string with at most 2 decimal places, like "125.00"',
    )


Money = Annotated[
    Decimal,
    BeforeValidator(_parse_money),
    PlainSerializer(money_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,9}(\.\d{1,2})?$", "examples": ["125.00"]}),
]
"""Any amount of money, zero included ("0.00")."""

PositiveMoney = Annotated[Money, Field(gt=0, le=Decimal("9999999.99"))]
"""A charge: more than zero, below ten million."""
