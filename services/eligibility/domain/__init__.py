"""Eligibility's pure domain: members and their coverage, accumulators, and checks.

No I/O here: adapters load state, call these functions, and store what they return.
"""

from .accumulators import (
    Accumulators,
    AccumulatorUpdate,
    FamilyAccumulators,
    apply_accumulator_event,
    apply_family_accumulator_event,
    empty_accumulators,
)
from .check_request import CheckRequest, Problem, inquiry_window, validate_check_request
from .coverage import CoverageSegment, coverage_on, nearest_coverage
from .enrollment import Demographics, change_plan, enroll, reenroll, terminate
from .errors import DomainError, DomainErrors
from .evaluation import evaluate
from contracts.events.membership import (
    EVENT_TYPES,
    CoverageTerminated,
    MemberEnrolled,
    MemberEvent,
    MemberReenrolled,
    PlanChanged,
    event_from_payload,
)
from .member import InvalidEventSequence, Member, apply, replay
from .result import (
    Accumulation,
    Benefits,
    CoveragePeriod,
    EligibilityResult,
    PlanSummary,
    ServiceBenefit,
    ServiceNote,
)

__all__ = [
    "EVENT_TYPES",
    "Accumulation",
    "AccumulatorUpdate",
    "Accumulators",
    "Benefits",
    "CheckRequest",
    "CoveragePeriod",
    "CoverageSegment",
    "CoverageTerminated",
    "Demographics",
    "DomainError",
    "DomainErrors",
    "EligibilityResult",
    "FamilyAccumulators",
    "InvalidEventSequence",
    "Member",
    "MemberEnrolled",
    "MemberEvent",
    "MemberReenrolled",
    "PlanChanged",
    "PlanSummary",
    "Problem",
    "ServiceBenefit",
    "ServiceNote",
    "apply",
    "apply_accumulator_event",
    "apply_family_accumulator_event",
    "change_plan",
    "coverage_on",
    "empty_accumulators",
    "enroll",
    "evaluate",
    "event_from_payload",
    "inquiry_window",
    "nearest_coverage",
    "reenroll",
    "replay",
    "terminate",
    "validate_check_request",
]
