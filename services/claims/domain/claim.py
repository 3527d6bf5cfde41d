"""The Claim aggregate: its state is whatever its past events say.

Command methods decide and return new events without changing the claim: the
caller appends them to the store with expected version `claim.version` and only
then applies them. If the append loses a race, nothing in memory has moved and
the caller reloads and retries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Callable

from pydantic import BaseModel

from contracts.events.claims import ClaimStatus
from refdata import codes

from .events import (
    CLAIM_CLOSURE_RESERVED,
    CLAIM_DENIED,
    CLAIM_PAID,
    CLAIM_PROCESSED,
    CLAIM_RECEIVED,
    CLAIM_REPLACED,
    CLAIM_VOIDED,
    AdjudicationDecision,
    BillingProvider,
    ClaimAdjudicated,
    ClaimClosureReserved,
    ClaimEvent,
    ClaimPaid,
    ClaimReceived,
    ClaimReplaced,
    ClaimVoided,
    Payload,
    ReceivedLine,
)
from .fingerprint import claim_fingerprint
from contracts.money import to_cents
from .submission import ClaimSubmission


class ClaimError(Exception):
    """A command the claim cannot accept."""


class InvalidTransition(ClaimError):
    """The claim's status does not allow the command."""


class DecisionMismatch(ClaimError):
    """An adjudication decision that does not describe this claim."""


@dataclass(frozen=True)
class TimelineEntry:
    status: ClaimStatus
    at: datetime
    reason_codes: tuple[str, ...] = ()


_CLOSED = frozenset({ClaimStatus.VOIDED, ClaimStatus.REPLACED})


class Claim:
    def __init__(self, claim_id: str) -> None:
        self.claim_id = claim_id
        self.version = 0
        """Number of events applied; the next event gets version + 1."""
        self.status: ClaimStatus | None = None
        self.received: ClaimReceived | None = None
        self.adjudication: ClaimAdjudicated | None = None
        self.adjudication_ids: set[str] = set()
        self.payment: ClaimPaid | None = None
        self.closed_by_claim_id: str | None = None
        self.reserved_by_claim_id: str | None = None
        """A correction (7 or 8) that reserved this claim and will close it."""
        self.timeline: list[TimelineEntry] = []

    # ----------------------------------------------------------- rebuilding

    @classmethod
    def from_events(cls, events: Iterable[ClaimEvent]) -> Claim:
        claim: Claim | None = None
        for event in events:
            if claim is None:
                claim = cls(event.claim_id)
            claim.apply(event)
        if claim is None:
            raise ValueError("a claim is rebuilt from at least its claim.received event")
        return claim

    def apply(self, event: ClaimEvent) -> Claim:
        if event.claim_id != self.claim_id:
            raise ValueError(f"event of claim {event.claim_id} applied to claim {self.claim_id}")
        if event.version != self.version + 1:
            raise ValueError(f"event version {event.version} does not follow claim version {self.version}")
        handler = _HANDLERS.get(event.type)
        if handler is None:
            raise ValueError(f"unknown claim event type {event.type!r}")
        handler(self, event.data)
        self.version = event.version
        return self

    def _on_received(self, data: Mapping[str, Any]) -> None:
        self.received = ClaimReceived.model_validate(data)
        self._enter(ClaimStatus.RECEIVED, self.received.received_at)

    def _on_adjudicated(self, status: ClaimStatus, data: Mapping[str, Any]) -> None:
        self.adjudication = ClaimAdjudicated.model_validate(data)
        self.adjudication_ids.add(self.adjudication.adjudication_id)
        self._enter(status, self.adjudication.adjudicated_at, tuple(self.adjudication.reason_codes))

    def _on_paid(self, data: Mapping[str, Any]) -> None:
        self.payment = ClaimPaid.model_validate(data)
        self._enter(ClaimStatus.PAID, self.payment.paid_at)

    def _on_voided(self, data: Mapping[str, Any]) -> None:
        voided = ClaimVoided.model_validate(data)
        self.closed_by_claim_id = voided.voided_by_claim_id
        self._enter(ClaimStatus.VOIDED, voided.voided_at)

    def _on_replaced(self, data: Mapping[str, Any]) -> None:
        replaced = ClaimReplaced.model_validate(data)
        self.closed_by_claim_id = replaced.replaced_by_claim_id
        self._enter(ClaimStatus.REPLACED, replaced.replaced_at)

    def _on_closure_reserved(self, data: Mapping[str, Any]) -> None:
        # Not a status: the claim stays what it was (and payable) until it is closed.
        self.reserved_by_claim_id = ClaimClosureReserved.model_validate(data).by_claim_id

    def _enter(self, status: ClaimStatus, at: datetime, reason_codes: tuple[str, ...] = ()) -> None:
        self.status = status
        self.timeline.append(TimelineEntry(status, at, reason_codes))

    def _next(self, type_: str, payload: Payload) -> ClaimEvent:
        return ClaimEvent(type_, self.claim_id, self.version + 1, payload.to_data())

    # -------------------------------------------------------------- commands

    @staticmethod
    def receive(
        claim_id: str,
        submission: ClaimSubmission,
        *,
        organization_id: str,
        received_at: datetime,
    ) -> list[ClaimEvent]:
        """The first event of a new claim. The submission must already have
        passed validate_claim: acceptance is decided there, not here."""
        lines = [
            ReceivedLine(line_number=number, **line.model_dump())
            for number, line in enumerate(submission.lines, start=1)
        ]
        payload = ClaimReceived(
            claim_id=claim_id,
            organization_id=organization_id,
            received_at=_utc(received_at),
            total_charge=to_cents(sum((line.charge_amount for line in submission.lines), start=Decimal(0))),
            fingerprint=claim_fingerprint(submission),
            frequency_code=submission.frequency_code,
            original_claim_id=submission.original_claim_id,
            member_id=submission.member_id,
            patient_date_of_birth=submission.patient_date_of_birth,
            billing_provider=BillingProvider(
                npi=submission.billing_provider.npi,
                tin=codes.normalize_tin(submission.billing_provider.tin),
            ),
            rendering_provider_npi=submission.rendering_provider_npi,
            diagnosis_codes=[codes.normalize_diagnosis_code(code) for code in submission.diagnosis_codes],
            prior_authorization_id=submission.prior_authorization_id,
            lines=lines,
        )
        return [ClaimEvent(CLAIM_RECEIVED, claim_id, 1, payload.to_data())]

    def apply_decision(self, decision: AdjudicationDecision | BaseModel | Mapping[str, Any]) -> list[ClaimEvent]:
        """claim.processed or claim.denied for a decision not seen before; no
        events for a decision already applied, so redelivery is harmless."""
        if isinstance(decision, AdjudicationDecision):
            parsed = decision
        elif isinstance(decision, BaseModel):
            parsed = AdjudicationDecision.model_validate(decision.model_dump(mode="json"))
        else:
            parsed = AdjudicationDecision.model_validate(decision)

        if parsed.adjudication_id in self.adjudication_ids:
            return []
        if parsed.claim_id != self.claim_id:
            raise DecisionMismatch(f"decision {parsed.adjudication_id} is for claim {parsed.claim_id}")
        if self.status is not ClaimStatus.RECEIVED:
            raise InvalidTransition(f"a {self.status} claim cannot take an adjudication decision")
        self._check_decision_matches_lines(parsed)

        payload = ClaimAdjudicated(
            claim_id=self.claim_id,
            adjudication_id=parsed.adjudication_id,
            adjudicated_at=_utc(parsed.adjudicated_at),
            lines=parsed.lines,
            totals=parsed.totals,
            reason_codes=sorted(
                {f"{adj.group}-{adj.carc}" for line in parsed.lines for adj in line.adjustments}
            ),
        )
        event_type = CLAIM_DENIED if parsed.outcome == "denied" else CLAIM_PROCESSED
        return [self._next(event_type, payload)]

    def _check_decision_matches_lines(self, decision: AdjudicationDecision) -> None:
        assert self.received is not None
        submitted = {line.line_number: line.charge_amount for line in self.received.lines}
        decided = {line.line_number: line.charge_amount for line in decision.lines}
        if submitted != decided:
            raise DecisionMismatch(
                f"decision {decision.adjudication_id} does not price this claim's lines and charges"
            )
        if decision.outcome == "denied" and any(line.paid_amount for line in decision.lines):
            raise DecisionMismatch(f"decision {decision.adjudication_id} is a denial that pays something")

    def record_payment(
        self, *, remittance_id: str, eft_trace_number: str, paid_at: datetime, amount: Decimal | str
    ) -> list[ClaimEvent]:
        """claim.paid once the payment run has paid the processed claim."""
        if self.payment is not None and self.payment.remittance_id == remittance_id:
            return []
        if self.status is not ClaimStatus.PROCESSED:
            raise InvalidTransition(f"a {self.status} claim cannot be paid")
        payload = ClaimPaid(
            claim_id=self.claim_id,
            remittance_id=remittance_id,
            eft_trace_number=eft_trace_number,
            paid_at=_utc(paid_at),
            amount=amount,
        )
        assert self.adjudication is not None
        if payload.amount != self.adjudication.totals.paid:
            raise ClaimError(
                f"a payment of {payload.amount} does not match the {self.adjudication.totals.paid} "
                "the claim was processed for"
            )
        return [self._next(CLAIM_PAID, payload)]

    def reserve_closure(self, *, by_claim_id: str, frequency_code: str, at: datetime) -> list[ClaimEvent]:
        """claim.closure_reserved: the first step of a replacement (7) or void (8).

        Exactly one correction can hold the reservation; the same one asking again
        (a replay) gets no new event, another one is refused as the claim were closed.
        """
        if frequency_code not in ("7", "8"):
            raise ValueError("only a replacement (7) or a void (8) closes a claim")
        if self.closed_by_claim_id == by_claim_id or self.reserved_by_claim_id == by_claim_id:
            return []
        self._require_open("corrected")
        if self.reserved_by_claim_id is not None:
            raise InvalidTransition("the claim is already being replaced or voided by another claim")
        payload = ClaimClosureReserved(
            claim_id=self.claim_id, by_claim_id=by_claim_id, frequency_code=frequency_code, reserved_at=_utc(at)
        )
        return [self._next(CLAIM_CLOSURE_RESERVED, payload)]

    def is_closable_by(self, claim_id: str | None) -> bool:
        """Open, and not reserved by a correction other than `claim_id`."""
        if self.status is None or self.status in _CLOSED:
            return False
        return self.reserved_by_claim_id is None or self.reserved_by_claim_id == claim_id

    def void(self, *, voided_by_claim_id: str, voided_at: datetime) -> list[ClaimEvent]:
        """claim.voided when a frequency-8 claim naming this one is accepted."""
        if self.status is ClaimStatus.VOIDED and self.closed_by_claim_id == voided_by_claim_id:
            return []
        self._require_open("voided")
        self._require_not_reserved_by_another(voided_by_claim_id)
        payload = ClaimVoided(claim_id=self.claim_id, voided_by_claim_id=voided_by_claim_id, voided_at=_utc(voided_at))
        return [self._next(CLAIM_VOIDED, payload)]

    def replace(self, *, replaced_by_claim_id: str, replaced_at: datetime) -> list[ClaimEvent]:
        """claim.replaced when a frequency-7 claim naming this one is accepted."""
        if self.status is ClaimStatus.REPLACED and self.closed_by_claim_id == replaced_by_claim_id:
            return []
        self._require_open("replaced")
        self._require_not_reserved_by_another(replaced_by_claim_id)
        payload = ClaimReplaced(
            claim_id=self.claim_id, replaced_by_claim_id=replaced_by_claim_id, replaced_at=_utc(replaced_at)
        )
        return [self._next(CLAIM_REPLACED, payload)]

    def _require_open(self, what: str) -> None:
        if self.status is None or self.status in _CLOSED:
            raise InvalidTransition(f"a {self.status} claim cannot be {what}")

    def _require_not_reserved_by_another(self, by_claim_id: str) -> None:
        if self.reserved_by_claim_id is not None and self.reserved_by_claim_id != by_claim_id:
            raise InvalidTransition("the claim is reserved by another replacement or void")


def _utc(at: datetime) -> datetime:
    # Instants are stored and published in UTC; a naive time is a caller bug.
    if at.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return at.astimezone(UTC)


_HANDLERS: dict[str, Callable[[Claim, Mapping[str, Any]], None]] = {
    CLAIM_RECEIVED: Claim._on_received,
    CLAIM_PROCESSED: lambda claim, data: claim._on_adjudicated(ClaimStatus.PROCESSED, data),
    CLAIM_DENIED: lambda claim, data: claim._on_adjudicated(ClaimStatus.DENIED, data),
    CLAIM_PAID: Claim._on_paid,
    CLAIM_VOIDED: Claim._on_voided,
    CLAIM_REPLACED: Claim._on_replaced,
    CLAIM_CLOSURE_RESERVED: Claim._on_closure_reserved,
}
