"""Decision clocks (CMS-0057-F): when a prior-authorization request must be decided.

From submission: 72 hours for expedited, 7 calendar days for standard requests, unless
the member's line of business has clocks of its own (an exchange plan's 15 days). An
info request pauses nothing. Pure; the table is data (refdata/decision_clocks.json).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Mapping

CLOCKS_FILE = Path(__file__).resolve().parents[3] / "refdata" / "decision_clocks.json"


@dataclass(frozen=True)
class Clock:
    expedited: timedelta
    standard: timedelta

    def due(self, urgency: str, submitted_at: datetime) -> datetime:
        return submitted_at + (self.expedited if urgency == "expedited" else self.standard)


@dataclass(frozen=True)
class DecisionClocks:
    default: Clock
    by_line_of_business: Mapping[str, Clock]

    def clock_for(self, line_of_business: str | None) -> Clock:
        return self.by_line_of_business.get(line_of_business or "", self.default)

    def due(self, urgency: str, submitted_at: datetime, line_of_business: str | None) -> datetime:
        return self.clock_for(line_of_business).due(urgency, submitted_at)

    def shortened(self, expedited_seconds: int | None, standard_seconds: int | None) -> DecisionClocks:
        """Every line's clock with these durations instead (tests, a local try-out of overdue)."""
        def short(clock: Clock) -> Clock:
            return Clock(
                timedelta(seconds=expedited_seconds) if expedited_seconds else clock.expedited,
                timedelta(seconds=standard_seconds) if standard_seconds else clock.standard,
            )
        if not expedited_seconds and not standard_seconds:
            return self
        return DecisionClocks(short(self.default), {k: short(v) for k, v in self.by_line_of_business.items()})


def _clock(raw: Mapping) -> Clock:
    expedited, standard = int(raw["expedited_hours"]), int(raw["standard_days"])
    if not 0 < expedited <= 72 or not 0 < standard <= 30:
        raise ValueError("a decision clock is at most 72 hours expedited and 30 days standard")
    return Clock(timedelta(hours=expedited), timedelta(days=standard))


def parse_clocks(doc: Mapping) -> DecisionClocks:
    return DecisionClocks(_clock(doc["default"]), {k: _clock(v) for k, v in doc.get("by_line_of_business", {}).items()})


@cache
def load_clocks() -> DecisionClocks:
    return parse_clocks(json.loads(CLOCKS_FILE.read_text()))
