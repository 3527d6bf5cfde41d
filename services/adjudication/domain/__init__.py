"""Adjudication domain: coverage, fee schedule and pricing. Pure code, no I/O."""

from .coverage import (
    CARC_AFTER_COVERAGE,
    CARC_BEFORE_COVERAGE,
    CARC_PATIENT_NOT_IDENTIFIED,
    CoveragePeriod,
    MemberCoverage,
    coverage_denial,
    fold_membership_event,
)
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
from .denial import denied_line
from .fee_schedule import FeeSchedule, load_fee_schedule
from .pricing import price_claim, price_line

__all__ = [
    "CARC_AFTER_COVERAGE",
    "CARC_BEFORE_COVERAGE",
    "CARC_PATIENT_NOT_IDENTIFIED",
    "CoveragePeriod",
    "MemberCoverage",
    "coverage_denial",
    "fold_membership_event",
    "denied_line",
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
