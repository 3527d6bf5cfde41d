"""claims.events: published by claims; keyed by member id so one member's claims stay in order."""

from contracts import topics
from contracts.contract import EventContract
from services.claims.domain.events import (
    CLAIM_DENIED,
    CLAIM_PAID,
    CLAIM_PROCESSED,
    CLAIM_RECEIVED,
    CLAIM_REPLACED,
    CLAIM_VOIDED,
    ClaimAdjudicated,
    ClaimPaid,
    ClaimReceived,
    ClaimReplaced,
    ClaimVoided,
)

CONTRACTS = (
    EventContract(CLAIM_RECEIVED, topics.CLAIMS, ClaimReceived, "A claim passed the intake edits and was accepted."),
    EventContract(CLAIM_PROCESSED, topics.CLAIMS, ClaimAdjudicated, "Adjudication's decision was applied; something is payable."),
    EventContract(CLAIM_DENIED, topics.CLAIMS, ClaimAdjudicated, "Adjudication denied every line of the claim."),
    EventContract(CLAIM_PAID, topics.CLAIMS, ClaimPaid, "The payment run paid the claim."),
    EventContract(CLAIM_VOIDED, topics.CLAIMS, ClaimVoided, "A void claim (frequency 8) cancelled this claim."),
    EventContract(CLAIM_REPLACED, topics.CLAIMS, ClaimReplaced, "A replacement claim (frequency 7) superseded this claim."),
)
