"""Money as the public contract writes it: a decimal string with two places ("125.00").

The one definition every payload, domain model and catalogue uses. Floats are refused
on purpose (0.1 + 0.2 has no place in a claim), and so are amounts finer than a cent.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

CENT = Decimal("0.01")
_MONEY_TEXT = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")
_SIGNED_MONEY_TEXT = re.compile(r"-?[0-9]{1,9}(\.[0-9]{1,2})?")


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money_text(amount: Decimal) -> str:
    return str(to_cents(amount))


def _parser(pattern: re.Pattern[str], signed: bool):
    def parse(value: Any) -> Decimal:
        if isinstance(value, str) and pattern.fullmatch(value):
            return to_cents(Decimal(value))
        if (
            isinstance(value, Decimal)
            and value.is_finite()
            and to_cents(value) == value
            and (signed or value >= 0)
        ):
            return to_cents(value)
        raise PydanticCustomError(
            "money_format",
            'must be a decimal string with at most 2 decimal places, like "125.00"',
        )

    return parse


def _schema(pattern: re.Pattern[str]) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": f"^{pattern.pattern}$", "examples": ["125.00"]})


Money = Annotated[
    Decimal,
    BeforeValidator(_parser(_MONEY_TEXT, signed=False)),
    PlainSerializer(money_text, return_type=str, when_used="json"),
    _schema(_MONEY_TEXT),
]
"""Any amount of money, zero included ("0.00"), never negative."""

SignedMoney = Annotated[
    Decimal,
    BeforeValidator(_parser(_SIGNED_MONEY_TEXT, signed=True)),
    PlainSerializer(money_text, return_type=str, when_used="json"),
    _schema(_SIGNED_MONEY_TEXT),
]
"""A change in money: negative for reversals ("-125.00")."""

PositiveMoney = Annotated[Money, Field(gt=0, le=Decimal("9999999.99"))]
"""A charge: more than zero, below ten million."""
