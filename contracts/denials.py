"""What the platform calls a denied claim line: one definition for adjudication and analytics.

A line is denied when nothing was allowed or paid and one of its adjustments carries
a denial CARC. CARC 45 (charge above the fee schedule), 1/2/3 (deductible,
coinsurance, copay) reduce a payment but never deny a line.
"""

from __future__ import annotations

from typing import Any

DENIAL_CARCS = frozenset({"16", "18", "26", "27", "29", "31", "50", "97", "197", "204", "242"})


def is_denied(line: Any) -> bool:
    return not line.paid_amount and not line.allowed_amount and any(a.carc in DENIAL_CARCS for a in line.adjustments)


def denial_carc(line: Any) -> str | None:
    """The CARC a denied line is counted under: its first denial adjustment's."""
    if not is_denied(line):
        return None
    return next(a.carc for a in line.adjustments if a.carc in DENIAL_CARCS)
