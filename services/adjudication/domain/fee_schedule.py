"""The fee schedule: what the plan allows per unit of a procedure, and the code's indicators.

The indicators are those of the Medicare physician fee schedule, as data per code:
whether the global amount splits into a professional (26) and technical (TC)
component and the professional share; whether the multiple-procedure reduction
applies; whether modifier 50 (bilateral) pays 150 %.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Rate:
    code: str
    amount: Decimal
    """In-network allowed amount for one unit (the global amount for PC/TC codes)."""
    pctc: str = "0"
    """"1": the amount splits into professional (26) and technical (TC) components."""
    professional_percent: Decimal | None = None
    mult_proc: str = "0"
    """"2": the standard multiple-procedure reduction (second and later at 50 %)."""
    bilat_surg: str = "0"
    """"1": modifier 50 pays 150 % of the amount."""

    @property
    def splits_components(self) -> bool:
        return self.pctc == "1" and self.professional_percent is not None


@dataclass(frozen=True)
class FeeSchedule:
    version: str
    effective_from: date
    effective_to: date
    rates: Mapping[str, Rate]
    out_of_network_percent: Decimal
    """Out of network (where the plan covers it) a plan allows this percentage of the in-network amount."""

    def rate(self, procedure_code: str) -> Rate | None:
        """None when the code is not on the schedule."""
        return self.rates.get(procedure_code)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeeSchedule:
        def rate(raw: Mapping[str, Any]) -> Rate:
            share = raw.get("professional_percent")
            return Rate(
                code=raw["code"], amount=Decimal(raw["in_network"]), pctc=str(raw.get("pctc", "0")),
                professional_percent=Decimal(share) if share is not None else None,
                mult_proc=str(raw.get("mult_proc", "0")), bilat_surg=str(raw.get("bilat_surg", "0")),
            )

        return cls(
            version=str(data["version"]),
            effective_from=date.fromisoformat(data["effective_from"]),
            effective_to=date.fromisoformat(data["effective_to"]),
            rates=MappingProxyType({raw["code"]: rate(raw) for raw in data["rates"]}),
            out_of_network_percent=Decimal(data["out_of_network_percent_of_in_network"]),
        )


@cache
def load_fee_schedule() -> FeeSchedule:
    """The seeded schedule shipped in refdata/fee_schedule.json (read once)."""
    text = resources.files("refdata").joinpath("fee_schedule.json").read_text(encoding="utf-8")
    return FeeSchedule.from_dict(json.loads(text))
