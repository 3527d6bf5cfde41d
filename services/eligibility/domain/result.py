"""The answer to an eligibility check, before the adapter adds check_id and timestamps.

`result.model_dump(mode="json")` gives the API's shape: money as "0.00" strings,
dates as YYYY-MM-DD, absent parts as null.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from refdata.plans import FrozenMap, Money

Status = Literal["active", "inactive", "not_found"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class PlanSummary(_Frozen):
    id: str
    name: str
    metal_level: str
    network_type: str


class CoveragePeriod(_Frozen):
    start: date
    end: date | None


class Accumulation(_Frozen):
    """amount is the plan's limit; met is capped at it.

    On an individual policy met + remaining == amount. On a family policy `family`
    holds the family's figures, and remaining is the lesser of the member's and the
    family's (the limit is reached when either is), so it may be below amount - met.
    """

    amount: Money
    met: Money
    remaining: Money
    # Left out on an individual policy, whose answers keep exactly the shape they always had.
    family: Accumulation | None = Field(default=None, exclude_if=lambda value: value is None)


class Benefits(_Frozen):
    deductible: Accumulation
    out_of_pocket_max: Accumulation
    coinsurance_percent: int
    copays: FrozenMap[str, Money | None]


class ServiceNote(_Frozen):
    """Why a service is not covered: unknown_procedure_code, out_of_network, coverage_inactive."""

    code: str
    message: str


class ServiceBenefit(_Frozen):
    """One requested procedure code. Cost-sharing fields are null when the service is not covered.

    in_network is null when the request named no provider.
    """

    procedure_code: str
    known: bool
    category: str | None
    covered: bool
    in_network: bool | None
    prior_authorization_required: bool
    copay: Money | None
    coinsurance_percent: int | None
    deductible_applies: bool | None
    reason: ServiceNote | None = None


class EligibilityResult(_Frozen):
    status: Status
    plan: PlanSummary | None = None
    coverage: CoveragePeriod | None = None
    benefits: Benefits | None = None
    services: tuple[ServiceBenefit, ...] = ()
