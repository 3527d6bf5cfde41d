"""The plan catalogue and the procedure-code categories, loaded once and immutable.

Every service that prices or explains benefits (eligibility, adjudication,
authorizations) reads the same catalogue, so the invariants a regulator would
check are enforced here, at load time, rather than trusted to each reader.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WrapSerializer,
    model_validator,
)

from contracts.money import Money

_HERE = Path(__file__).parent
PLANS_FILE = _HERE / "plans.json"
PROCEDURE_CODES_FILE = _HERE / "procedure_codes.json"



_K = TypeVar("_K")
_V = TypeVar("_V")

FrozenMap = Annotated[
    Mapping[_K, _V],
    AfterValidator(MappingProxyType),
    WrapSerializer(lambda value, handler: handler(dict(value))),
]
"""A read-only mapping: the catalogue is cached and shared, so callers must not mutate it."""

SortedStrings = Annotated[
    frozenset[str],
    PlainSerializer(sorted, return_type=list[str]),
]


def normalize_code(code: str) -> str:
    return code.strip().upper()


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Amounts(_Frozen):
    individual: Annotated[Money, Field(ge=0)]
    family: Annotated[Money, Field(ge=0)]


class CostSharing(_Frozen):
    """What the member pays for one service category, in network.

    copay None means "deductible, then coinsurance". A copay with
    deductible_applies true is charged only once the deductible is met (the member
    pays the allowed amount until then), which is how HSA plans show copays.
    """

    copay: Annotated[Money, Field(ge=0)] | None
    deductible_applies: bool

    @model_validator(mode="after")
    def _coinsurance_needs_deductible(self) -> CostSharing:
        if self.copay is None and not self.deductible_applies:
            raise ValueError("a category without a copay is 'deductible then coinsurance'")
        return self


class OutOfNetwork(_Frozen):
    covered_categories: SortedStrings
    coinsurance_percent: Annotated[int, Field(ge=0, le=100)] | None = None
    """Coinsurance for out-of-network lines where the plan covers them; None: the in-network one."""
    # Emergency care out of network is charged at in-network cost sharing (ACA,
    # No Surprises Act); the field makes that explicit in the published catalogue.
    cost_sharing: Literal["in_network"] = "in_network"
    coinsurance_percent: Annotated[int, Field(ge=0, le=100)] | None = None
    """The coinsurance of out-of-network lines on a plan that covers them (PPO), in
    place of the plan's in-network coinsurance_percent; None on HMO and EPO plans,
    which pay out of network only for emergencies, at in-network cost sharing."""


# 2026 limits: ACA maximum out-of-pocket (HHS NBPP 2026) and IRS HDHP limits
# for HSA eligibility (Rev. Proc. 2025-19).
ACA_OOP_MAX = {2026: Amounts(individual=Decimal("10600.00"), family=Decimal("21200.00"))}
HDHP_MIN_DEDUCTIBLE = {2026: Amounts(individual=Decimal("1700.00"), family=Decimal("3400.00"))}
HDHP_MAX_OOP = {2026: Amounts(individual=Decimal("8500.00"), family=Decimal("17000.00"))}
# Categories an HDHP may pay before the deductible: preventive care, and telehealth
# under the safe harbour made permanent for plan years from 2025.
HDHP_PRE_DEDUCTIBLE_CATEGORIES = frozenset({"preventive", "telehealth"})


class Plan(_Frozen):
    id: Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    name: str
    metal_level: Literal["bronze", "silver", "gold", "platinum"]
    network_type: Literal["HMO", "EPO", "PPO"]
    line_of_business: Literal["individual", "exchange", "medicare_advantage", "medicaid", "chip", "group"] = "individual"
    """Which regulator's rules apply, e.g. the prior-authorization decision clocks (refdata/decision_clocks.json)."""
    plan_year: int
    """The year of the benefit design, whose legal limits (ACA, HDHP) it is checked against.

    Not a bound on coverage: a plan id names a product whose design renews every
    calendar year, and members may be covered by it in any year (see benefit_year).
    """
    hsa_eligible: bool
    deductible: Amounts
    out_of_pocket_max: Amounts
    coinsurance_percent: Annotated[int, Field(ge=0, le=100)]
    cost_sharing: FrozenMap[str, CostSharing]
    prior_authorization_codes: SortedStrings
    excluded_procedure_codes: SortedStrings = frozenset()
    """Services the plan never covers (cosmetic procedures): denied CO-204."""
    out_of_network: OutOfNetwork
    timely_filing_days: Annotated[int, Field(gt=0)]
    """A line received more than this many days after its date of service is denied CO-29."""

    @property
    def copays(self) -> dict[str, Decimal | None]:
        return {category: sharing.copay for category, sharing in self.cost_sharing.items()}

    def covers_out_of_network(self, category: str) -> bool:
        return category in self.out_of_network.covered_categories

    def requires_prior_authorization(self, code: str) -> bool:
        return normalize_code(code) in self.prior_authorization_codes

    def excludes(self, code: str) -> bool:
        return normalize_code(code) in self.excluded_procedure_codes

    @model_validator(mode="after")
    def _within_legal_limits(self) -> Plan:
        cap = ACA_OOP_MAX.get(self.plan_year)
        if cap is None:
            raise ValueError(f"no ACA out-of-pocket cap known for plan year {self.plan_year}")
        for tier in ("individual", "family"):
            oop = getattr(self.out_of_pocket_max, tier)
            if oop > getattr(cap, tier):
                raise ValueError(f"{tier} out-of-pocket max {oop} exceeds the ACA cap")
            if getattr(self.deductible, tier) > oop:
                raise ValueError(f"{tier} deductible exceeds the out-of-pocket max")
        preventive = self.cost_sharing.get("preventive")
        if preventive is None or preventive.copay != 0 or preventive.deductible_applies:
            raise ValueError("in-network preventive care must be free of cost sharing (ACA)")
        if "emergency_room" not in self.out_of_network.covered_categories:
            raise ValueError("emergency care must be covered out of network")
        self._check_network()
        if self.hsa_eligible:
            self._check_hdhp()
        return self

    def _check_network(self) -> None:
        out = self.out_of_network
        if self.network_type == "PPO":
            if out.coinsurance_percent is None:
                raise ValueError("a PPO must state its out-of-network coinsurance")
            if out.coinsurance_percent < self.coinsurance_percent:
                raise ValueError("out-of-network coinsurance below the in-network coinsurance")
        else:
            # HMO and EPO plans pay out of network for emergencies only, at in-network cost sharing.
            if out.covered_categories != {"emergency_room"}:
                raise ValueError(f"an {self.network_type} covers only emergency care out of network")
            if out.coinsurance_percent is not None:
                raise ValueError(f"an {self.network_type} has no out-of-network coinsurance")

    def _check_hdhp(self) -> None:
        minimum, maximum = HDHP_MIN_DEDUCTIBLE[self.plan_year], HDHP_MAX_OOP[self.plan_year]
        for tier in ("individual", "family"):
            if getattr(self.deductible, tier) < getattr(minimum, tier):
                raise ValueError(f"HSA plan {tier} deductible is below the HDHP minimum")
            if getattr(self.out_of_pocket_max, tier) > getattr(maximum, tier):
                raise ValueError(f"HSA plan {tier} out-of-pocket max exceeds the HDHP limit")
        for category, sharing in self.cost_sharing.items():
            if not sharing.deductible_applies and category not in HDHP_PRE_DEDUCTIBLE_CATEGORIES:
                raise ValueError(f"HSA plan pays {category} before the deductible")


def benefit_year(date_of_service: date) -> int:
    """The benefit (accumulator) year a date of service counts towards.

    Benefit designs renew every calendar year, so deductibles and out-of-pocket
    maximums reset on January 1 whatever the coverage period: the benefit year is
    the calendar year of the date of service.
    """
    return date_of_service.year


class UnknownPlanError(KeyError):
    def __init__(self, plan_id: str) -> None:
        super().__init__(plan_id)
        self.plan_id = plan_id


class Catalogue(_Frozen):
    version: str
    categories: tuple[str, ...]
    plans: FrozenMap[str, Plan]
    procedure_categories: FrozenMap[str, str]
    procedure_descriptions: FrozenMap[str, str]

    def plan(self, plan_id: str) -> Plan:
        try:
            return self.plans[plan_id]
        except KeyError:
            raise UnknownPlanError(plan_id) from None

    def category_of(self, code: str) -> str | None:
        return self.procedure_categories.get(normalize_code(code))

    def is_known_procedure(self, code: str) -> bool:
        return normalize_code(code) in self.procedure_categories

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        categories = set(self.categories)
        stray = set(self.procedure_categories.values()) - categories
        if stray:
            raise ValueError(f"procedure codes use undeclared categories {sorted(stray)}")
        for plan in self.plans.values():
            if set(plan.cost_sharing) != categories:
                raise ValueError(f"{plan.id}: cost sharing must cover exactly {sorted(categories)}")
            if not plan.out_of_network.covered_categories <= categories:
                raise ValueError(f"{plan.id}: unknown out-of-network category")
            for code in plan.prior_authorization_codes:
                category = self.procedure_categories.get(code)
                if category is None:
                    raise ValueError(f"{plan.id}: prior authorization for unknown code {code}")
                # Requiring authorization for emergency or preventive care is unlawful.
                if category in {"emergency_room", "preventive"}:
                    raise ValueError(f"{plan.id}: prior authorization on {category} code {code}")
            for code in plan.excluded_procedure_codes:
                category = self.procedure_categories.get(code)
                if category is None:
                    raise ValueError(f"{plan.id}: exclusion of unknown code {code}")
                # Preventive care (ACA) and emergency care may not be excluded.
                if category in {"emergency_room", "preventive"}:
                    raise ValueError(f"{plan.id}: exclusion of {category} code {code}")
            if plan.excluded_procedure_codes & plan.prior_authorization_codes:
                raise ValueError(f"{plan.id}: a code both excluded and subject to prior authorization")
        return self


def parse_catalogue(plans_doc: dict, procedures_doc: dict) -> Catalogue:
    plan_list = [Plan.model_validate(raw) for raw in plans_doc["plans"]]
    ids = [plan.id for plan in plan_list]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate plan id in the catalogue")
    codes = procedures_doc["codes"]
    return Catalogue(
        version=plans_doc["version"],
        categories=tuple(procedures_doc["categories"]),
        plans={plan.id: plan for plan in plan_list},
        procedure_categories={normalize_code(c["code"]): c["category"] for c in codes},
        procedure_descriptions={normalize_code(c["code"]): c["description"] for c in codes},
    )


@cache
def load_catalogue() -> Catalogue:
    return parse_catalogue(
        json.loads(PLANS_FILE.read_text(encoding="utf-8")),
        json.loads(PROCEDURE_CODES_FILE.read_text(encoding="utf-8")),
    )
