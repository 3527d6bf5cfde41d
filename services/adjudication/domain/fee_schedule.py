"""The plan's fee schedule: what it allows for a procedure, in and out of network."""

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

from contracts.money import to_cents


@dataclass(frozen=True)
class FeeSchedule:
    version: str
    effective_from: date
    effective_to: date
    in_network: Mapping[str, Decimal]
    """Allowed amount for one unit of a procedure code, in network."""
    out_of_network_percent: Decimal
    """Out of network a plan allows this percentage of the in-network amount."""

    def allowed_per_unit(self, procedure_code: str, *, in_network: bool = True) -> Decimal | None:
        """None when the code is not on the schedule (the service is not covered)."""
        rate = self.in_network.get(procedure_code)
        if rate is None or in_network:
            return rate
        return to_cents(rate * self.out_of_network_percent / 100)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeeSchedule:
        return cls(
            version=str(data["version"]),
            effective_from=date.fromisoformat(data["effective_from"]),
            effective_to=date.fromisoformat(data["effective_to"]),
            in_network=MappingProxyType({rate["code"]: Decimal(rate["in_network"]) for rate in data["rates"]}),
            out_of_network_percent=Decimal(data["out_of_network_percent_of_in_network"]),
        )


@cache
def load_fee_schedule() -> FeeSchedule:
    """The seeded schedule shipped in refdata/fee_schedule.json (read once)."""
    text = resources.files("refdata").joinpath("fee_schedule.json").read_text(encoding="utf-8")
    return FeeSchedule.from_dict(json.loads(text))
