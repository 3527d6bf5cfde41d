"""Adjudication domain: fee schedule and pricing. Pure code, no I/O."""

from .decision import (
    CARC_EXCEEDS_FEE_SCHEDULE,
    CARC_NOT_COVERED,
    DENIAL_CARCS,
    Adjustment,
    Decision,
    LineDecision,
    Totals,
    adjudication_id_for,
)
from .fee_schedule import FeeSchedule, load_fee_schedule
from .pricing import price_claim, price_line

__all__ = [
    "CARC_EXCEEDS_FEE_SCHEDULE",
    "CARC_NOT_COVERED",
    "DENIAL_CARCS",
    "Adjustment",
    "Decision",
    "FeeSchedule",
    "LineDecision",
    "Totals",
    "adjudication_id_for",
    "load_fee_schedule",
    "price_claim",
    "price_line",
]
