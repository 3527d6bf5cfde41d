"""Adjudication's decision on a claim: per-line money and why, plus totals.

Published on adjudication.events as claim.adjudicated; its shape is the contract's
AdjudicationDecision, which the claims service reads.
"""

from __future__ import annotations

import uuid

from contracts.adjudicated import AdjudicatedLine, Adjustment, Totals  # noqa: F401 - re-exported
from contracts.events.adjudication import AdjudicationDecision

# Claim adjustment reason codes (X12 CARC) this service assigns.
CARC_DEDUCTIBLE = "1"
CARC_COINSURANCE = "2"
CARC_COPAY = "3"
CARC_EXCEEDS_FEE_SCHEDULE = "45"
CARC_NOT_COVERED = "204"

DENIAL_CARCS = frozenset({"16", "18", "26", "27", "29", "31", "50", "97", "197", "204"})
"""Reasons that refuse a service outright, as opposed to reducing what is paid."""

_ADJUDICATION_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:provider-platform:adjudication")


def adjudication_id_for(claim_id: str, claim_version: int) -> str:
    """Deterministic, so re-adjudicating a replayed event yields the same decision
    id and the claim ignores it."""
    return str(uuid.uuid5(_ADJUDICATION_NAMESPACE, f"{claim_id}:{claim_version}"))


class LineDecision(AdjudicatedLine):
    @property
    def denied(self) -> bool:
        return not self.paid_amount and any(adj.carc in DENIAL_CARCS for adj in self.adjustments)


class Decision(AdjudicationDecision):
    lines: list[LineDecision]
