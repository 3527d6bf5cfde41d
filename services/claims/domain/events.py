"""The claim's events: what happened to a claim, in the past tense.

Their payload models are the published contract (contracts/events/claims.py);
events carry them as JSON-ready dicts so that a stored or published event reads
back into exactly the same state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.adjudicated import AdjudicatedLine, Adjustment, Totals  # noqa: F401 - re-exported
from contracts.events.adjudication import AdjudicationDecision, PendRequest  # noqa: F401 - re-exported
from contracts.events.claims import (  # noqa: F401 - re-exported: the claim's events are its contract
    CLAIM_CLOSURE_RESERVED,
    CLAIM_DENIED,
    CLAIM_INFO_REQUEST_ANSWERED,
    CLAIM_INFO_REQUEST_EXPIRED,
    CLAIM_INFO_REQUESTED,
    CLAIM_MESSAGE_POSTED,
    CLAIM_PAID,
    CLAIM_PROCESSED,
    CLAIM_RECEIVED,
    CLAIM_REPLACED,
    CLAIM_VOIDED,
    BillingProvider,
    ClaimAdjudicated,
    ClaimClosureReserved,
    ClaimInfoRequestAnswered,
    ClaimInfoRequested,
    ClaimInfoRequestExpired,
    ClaimMessagePosted,
    ClaimPaid,
    ClaimReceived,
    ClaimReplaced,
    ClaimVoided,
    Payload,
    ReceivedLine,
)


@dataclass(frozen=True)
class ClaimEvent:
    """One event of a claim's stream; the adapter wraps it in a CloudEvent."""

    type: str
    claim_id: str
    version: int
    """Position in the claim's stream, from 1; the store's (stream, version) key."""
    data: Mapping[str, Any] = field(default_factory=dict)


