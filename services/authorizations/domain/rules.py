"""Auto-approval rules, as data (refdata/authorization_rules.json). Pure.

A rule approves a request only when it covers every requested code that needs
authorization; the first rule that does names itself on the decision. Gold carding
reads the organisation's recent decisions per procedure (gold_card.py keeps them from
the topic); only people's decisions count there, so an auto-approval never feeds its own rate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Literal

from refdata import codes

RULES_FILE = Path(__file__).resolve().parents[3] / "refdata" / "authorization_rules.json"


@dataclass(frozen=True)
class DecisionStats:
    """An organisation's decisions by people for one procedure within the look-back."""

    approved: int = 0
    denied: int = 0

    @property
    def total(self) -> int:
        return self.approved + self.denied


@dataclass(frozen=True)
class RuleInput:
    codes_requiring_authorization: tuple[str, ...]
    diagnosis_codes: tuple[str, ...]
    units: int
    stats: Mapping[str, DecisionStats] = field(default_factory=dict)
    """By procedure code: the organisation's recent decisions (gold carding)."""


@dataclass(frozen=True)
class Rule:
    id: str
    kind: Literal["procedure_with_diagnosis", "gold_card"]
    description: str
    procedure_codes: frozenset[str] = frozenset()
    diagnosis_codes: frozenset[str] = frozenset()
    max_units: int | None = None
    min_approval_rate: Decimal = Decimal("0.95")
    lookback_days: int = 90
    min_decisions: int = 10

    def approves(self, request: RuleInput) -> bool:
        needed = request.codes_requiring_authorization
        if not needed:
            return False
        if self.kind == "procedure_with_diagnosis":
            diagnoses = {codes.normalize_diagnosis_code(d) for d in request.diagnosis_codes}
            return (all(code in self.procedure_codes for code in needed)
                    and bool(diagnoses & self.diagnosis_codes)
                    and (self.max_units is None or request.units <= self.max_units))
        return all(self._gold(request.stats.get(code, DecisionStats())) for code in needed)

    def _gold(self, stats: DecisionStats) -> bool:
        return stats.total >= self.min_decisions and Decimal(stats.approved) >= self.min_approval_rate * stats.total


def first_approving(rules: Sequence[Rule], request: RuleInput) -> Rule | None:
    return next((rule for rule in rules if rule.approves(request)), None)


def parse_rules(doc: Mapping) -> tuple[Rule, ...]:
    rules = []
    for raw in doc["rules"]:
        diagnoses = frozenset(codes.normalize_diagnosis_code(d) for d in raw.get("diagnosis_codes", []))
        for diagnosis in diagnoses:
            if not codes.is_billable_diagnosis_code(diagnosis):
                raise ValueError(f"rule {raw['id']}: {diagnosis} is not a billable ICD-10-CM code")
        rules.append(Rule(
            id=raw["id"], kind=raw["kind"], description=raw["description"],
            procedure_codes=frozenset(raw.get("procedure_codes", [])), diagnosis_codes=diagnoses,
            max_units=raw.get("max_units"), min_approval_rate=Decimal(raw.get("min_approval_rate", "0.95")),
            lookback_days=int(raw.get("lookback_days", 90)), min_decisions=int(raw.get("min_decisions", 10)),
        ))
    if len({r.id for r in rules}) != len(rules):
        raise ValueError("duplicate auto-approval rule id")
    return tuple(rules)


@cache
def load_rules() -> tuple[Rule, ...]:
    return parse_rules(json.loads(RULES_FILE.read_text()))


def gold_card_lookback_days(rules: Sequence[Rule]) -> int:
    return max((r.lookback_days for r in rules if r.kind == "gold_card"), default=90)
