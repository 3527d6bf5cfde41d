"""The reference data a decision reads: plans, procedure categories, fee schedule, NCCI pairs, policy.

All of it is data shipped in refdata/ (read once and shared), so a rule changes by
editing a file that names its source, not by editing code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cache
from importlib import resources
from types import MappingProxyType

from refdata.plans import Catalogue, load_catalogue

from .fee_schedule import FeeSchedule, load_fee_schedule


@dataclass(frozen=True)
class NcciPair:
    """A procedure-to-procedure edit: column2 is not paid when billed with column1 on the same day."""

    column1: str
    column2: str
    modifier_indicator: str
    """"1": an allowed modifier (59, X{EPSU}) bypasses the edit; "0": nothing does."""


@dataclass(frozen=True)
class Policy:
    unlisted_procedure_codes: frozenset[str]
    """Unlisted / not-otherwise-classified codes: priced only by report, after documentation."""
    pend_charge_threshold: Decimal
    """A line charging more needs the medical record before it is decided."""
    unlisted_by_report_percent: Decimal
    bundling_modifiers: frozenset[str]
    emergency_places_of_service: frozenset[str]


@dataclass(frozen=True)
class Reference:
    catalogue: Catalogue
    fee_schedule: FeeSchedule
    policy: Policy
    ncci_by_column2: Mapping[str, tuple[NcciPair, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Reference:
        return _load()

    def with_pend_charge_threshold(self, threshold: Decimal) -> Reference:
        return replace(self, policy=replace(self.policy, pend_charge_threshold=threshold))

    def pairs_with_column2(self, code: str) -> tuple[NcciPair, ...]:
        return self.ncci_by_column2.get(code, ())


def _json(name: str) -> dict:
    return json.loads(resources.files("refdata").joinpath(name).read_text(encoding="utf-8"))


@cache
def _load() -> Reference:
    policy = _json("adjudication_policy.json")
    pairs: dict[str, list[NcciPair]] = {}
    for raw in _json("ncci_ptp.json")["pairs"]:
        pair = NcciPair(raw["column1"], raw["column2"], str(raw["modifier_indicator"]))
        pairs.setdefault(pair.column2, []).append(pair)
    return Reference(
        catalogue=load_catalogue(),
        fee_schedule=load_fee_schedule(),
        policy=Policy(
            unlisted_procedure_codes=frozenset(policy["unlisted_procedure_codes"]),
            pend_charge_threshold=Decimal(policy["pend_charge_threshold"]),
            unlisted_by_report_percent=Decimal(policy["unlisted_by_report_percent"]),
            bundling_modifiers=frozenset(policy["bundling_modifiers"]),
            emergency_places_of_service=frozenset(policy["emergency_places_of_service"]),
        ),
        ncci_by_column2=MappingProxyType({code: tuple(found) for code, found in pairs.items()}),
    )
