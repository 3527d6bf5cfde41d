"""The money of an adjudicated claim line, as every payload that carries it spells it.

Adjudication's decision (claim.adjudicated) and the claim's own claim.processed /
claim.denied events share these models, so the two cannot drift apart.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts.money import Money


class _Frozen(BaseModel):
    # Unknown fields are ignored: adding a field is not a breaking change.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Adjustment(_Frozen):
    group: Literal["CO", "PR", "OA"]
    """CO contractual obligation, PR patient responsibility, OA other."""
    carc: str
    rarc: str | None = None
    amount: Money


class AdjudicatedLine(_Frozen):
    line_number: int
    procedure_code: str
    charge_amount: Money
    allowed_amount: Money
    deductible: Money
    copay: Money
    coinsurance: Money
    paid_amount: Money
    patient_responsibility: Money
    adjustments: list[Adjustment] = []
    explanation: list[str] = []
    """The pricing and benefit steps in plain words (fee schedule amount, network,
    deductible applied, copay, coinsurance, cap reached, authorization used); no patient data."""
    authorization_id: str | None = None
    """The approved authorization this line used (its units count against it)."""


class Totals(_Frozen):
    charge: Money
    allowed: Money
    paid: Money
    patient_responsibility: Money
