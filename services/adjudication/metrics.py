"""Adjudication's Prometheus metrics: outcomes, denials by reason, the auto-adjudication rate.

Labels are outcomes and reason codes only: never ids, members or procedure codes.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from contracts.events.adjudication import AdjudicationDecision
from services.adjudication.domain.ledger import DENIAL_CARCS

DECISIONS = Counter(
    "adjudication_decisions_total", "Claims decided, by outcome and by whether a person or documents were needed",
    ["outcome", "path"],
)
DENIED_LINES = Counter("adjudication_denied_lines_total", "Claim lines denied, by group and CARC", ["group", "carc"])
AUTO_ADJUDICATION_RATE = Gauge(
    "adjudication_auto_adjudication_ratio",
    "Share of decisions made without a pend or a person since the process started (auto / all)",
)
_counts = {"auto": 0, "all": 0}


def record_decision_metrics(decision: AdjudicationDecision | None, *, after_information: bool) -> None:
    if decision is None:
        return  # a void: nothing decided
    automatic = decision.outcome != "info_requested" and not after_information
    DECISIONS.labels(decision.outcome, "auto" if automatic else "after_information" if after_information else "pended").inc()
    for line in decision.lines:
        for adjustment in line.adjustments:
            if adjustment.carc in DENIAL_CARCS and not line.paid_amount:
                DENIED_LINES.labels(adjustment.group, adjustment.carc).inc()
    _counts["all"] += 1
    _counts["auto"] += automatic
    AUTO_ADJUDICATION_RATE.set(_counts["auto"] / _counts["all"])
