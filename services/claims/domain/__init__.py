"""Claims domain: intake edits and the Claim aggregate. Pure code, no I/O."""

from .claim import Claim, ClaimError, ClaimStatus, DecisionMismatch, InvalidTransition, TimelineEntry
from .context import CoveragePeriod, EditContext, MemberFacts
from .edits import validate_claim
from .events import (
    CLAIM_CLOSURE_RESERVED,
    CLAIM_DENIED,
    CLAIM_PAID,
    CLAIM_PROCESSED,
    CLAIM_RECEIVED,
    CLAIM_REPLACED,
    CLAIM_VOIDED,
    AdjudicationDecision,
    ClaimAdjudicated,
    ClaimClosureReserved,
    ClaimEvent,
    ClaimPaid,
    ClaimReceived,
    ClaimReplaced,
    ClaimVoided,
)
from .fingerprint import claim_fingerprint
from .problems import Problem, problems_from_validation_errors
from .submission import BillingProvider, ClaimLine, ClaimSubmission

__all__ = [
    "CLAIM_CLOSURE_RESERVED",
    "CLAIM_DENIED",
    "CLAIM_PAID",
    "CLAIM_PROCESSED",
    "CLAIM_RECEIVED",
    "CLAIM_REPLACED",
    "CLAIM_VOIDED",
    "AdjudicationDecision",
    "BillingProvider",
    "Claim",
    "ClaimAdjudicated",
    "ClaimClosureReserved",
    "ClaimError",
    "ClaimEvent",
    "ClaimLine",
    "ClaimPaid",
    "ClaimReceived",
    "ClaimReplaced",
    "ClaimStatus",
    "ClaimSubmission",
    "ClaimVoided",
    "CoveragePeriod",
    "DecisionMismatch",
    "EditContext",
    "InvalidTransition",
    "MemberFacts",
    "Problem",
    "TimelineEntry",
    "claim_fingerprint",
    "problems_from_validation_errors",
    "validate_claim",
]
