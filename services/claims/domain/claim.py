"""The Claim aggregate: its state is whatever its past events say.

Command methods decide and return new events without changing the claim: the
caller appends them to the store with expected version `claim.version` and only
then applies them. If the append loses a race, nothing in memory has moved and
the caller reloads and retries.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Callable

from pydantic import BaseModel

from contracts.events.claims import ClaimStatus
from refdata import codes

from .events import (
    CLAIM_CLOSURE_RESERVED,
    CLAIM_DENIED,
    CLAIM_INFO_REQUEST_ANSWERED,
    CLAIM_INFO_REQUESTED,
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
    ClaimInfoRequestAnswered,
    ClaimInfoRequested,
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


class UnknownInfoRequest(ClaimError):
    """No info request of this claim has the id."""


DEFAULT_INFO_REQUEST_DUE_DAYS = 45
"""Days the provider has to answer an info request (the claims setting info_request_due_days)."""
MISSING_INFORMATION_CARC = "16"
"""CARC 16: claim lacks information needed for adjudication; every info request carries it."""
_INFO_REQUEST_NAMESPACE = uuid.UUID("5d0f8a43-2b7e-4c1a-9e64-0c4b1f7d3a52")


def info_request_id_for(adjudication_id: str) -> str:
    """The id of the info request a pending decision opens: the same for a replayed decision."""
    return str(uuid.uuid5(_INFO_REQUEST_NAMESPACE, f"adjudication:{adjudication_id}"))


@dataclass(frozen=True)
class InfoRequest:
    """One request for documentation, as its events say."""

    info_request_id: str
    requested_at: datetime
    due_by: date
    carc: str
    rarc: str
    message: str
    requested_by: str
    adjudication_id: str | None = None
    line_numbers: tuple[int, ...] = ()
    answer: ClaimInfoRequestAnswered | None = None

    @property
    def is_open(self) -> bool:
        return self.answer is None

    def is_expired_on(self, day: date) -> bool:
        """Unanswered past due_by (nothing records the expiry yet: it is a function of the date)."""
        return self.is_open and day > self.due_by


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
        self.info_requests: dict[str, InfoRequest] = {}
        """Every info request of the claim, oldest first; at most one is open."""
        self.awaiting_decision_since = 0
        """Version of the event that last put the claim in `received` (claim.received or an
        answer): a decision made on an earlier version is stale."""

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
        handler(self, event.data, event.version)
        self.version = event.version
        return self

    def _on_received(self, data: Mapping[str, Any], version: int) -> None:
        self.received = ClaimReceived.model_validate(data)
        self.awaiting_decision_since = version
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

    def _on_info_requested(self, data: Mapping[str, Any]) -> None:
        requested = ClaimInfoRequested.model_validate(data)
        if requested.adjudication_id is not None:
            self.adjudication_ids.add(requested.adjudication_id)
        self.info_requests[requested.info_request_id] = InfoRequest(
            info_request_id=requested.info_request_id,
            requested_at=requested.requested_at,
            due_by=requested.due_by,
            carc=requested.carc,
            rarc=requested.rarc,
            message=requested.message,
            requested_by=requested.requested_by,
            adjudication_id=requested.adjudication_id,
            line_numbers=tuple(requested.line_numbers),
        )
        self._enter(ClaimStatus.INFO_REQUESTED, requested.requested_at, (f"CO-{requested.carc}", requested.rarc))

    def _on_info_request_answered(self, data: Mapping[str, Any], version: int) -> None:
        answered = ClaimInfoRequestAnswered.model_validate(data)
        request = self.info_requests.get(answered.info_request_id)
        if request is None:
            raise ValueError(f"answer to info request {answered.info_request_id} the claim never made")
        self.info_requests[answered.info_request_id] = replace(request, answer=answered)
        self.awaiting_decision_since = version
        self._enter(ClaimStatus.RECEIVED, answered.answered_at)

    @property
    def open_info_request(self) -> InfoRequest | None:
        return next((r for r in self.info_requests.values() if r.is_open), None)

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

    def apply_decision(
        self,
        decision: AdjudicationDecision | BaseModel | Mapping[str, Any],
        *,
        info_request_due_days: int = DEFAULT_INFO_REQUEST_DUE_DAYS,
    ) -> list[ClaimEvent]:
        """claim.processed, claim.denied or claim.info_requested (a pending decision) for a
        decision not seen before; no events for a decision already applied, so redelivery
        is harmless. A claim takes a decision while `received`: when it arrives, and again
        after an info request was answered; a decision made on a version before that
        answer is stale and refused."""
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
        if parsed.claim_version < self.awaiting_decision_since:
            raise InvalidTransition(
                f"decision {parsed.adjudication_id} was made on version {parsed.claim_version}; the claim "
                f"awaits one on version {self.awaiting_decision_since} or later"
            )
        self._check_decision_matches_lines(parsed)
        if parsed.outcome == "info_requested":
            return [self._next(CLAIM_INFO_REQUESTED, self._pend(parsed, info_request_due_days))]

        payload = ClaimAdjudicated(
            claim_id=self.claim_id,
            adjudication_id=parsed.adjudication_id,
            adjudicated_at=_utc(parsed.adjudicated_at),
            lines=parsed.lines,
            totals=parsed.totals,
            reason_codes=sorted(
                {f"{adj.group}-{adj.carc}" for line in parsed.lines for adj in line.adjustments}
            ),
            organization_id=self.received.organization_id,
            member_id=self.received.member_id,
            billing_provider=self.received.billing_provider,
            received_at=self.received.received_at,
        )
        event_type = CLAIM_DENIED if parsed.outcome == "denied" else CLAIM_PROCESSED
        return [self._next(event_type, payload)]

    def _pend(self, decision: AdjudicationDecision, due_days: int) -> ClaimInfoRequested:
        assert decision.info_request is not None
        requested_at = _utc(decision.adjudicated_at)
        return ClaimInfoRequested(
            claim_id=self.claim_id,
            info_request_id=info_request_id_for(decision.adjudication_id),
            requested_at=requested_at,
            due_by=requested_at.date() + timedelta(days=due_days),
            carc=decision.info_request.carc,
            rarc=decision.info_request.rarc,
            message=decision.info_request.message,
            requested_by="adjudication",
            adjudication_id=decision.adjudication_id,
            line_numbers=decision.info_request.line_numbers,
        )

    def _check_decision_matches_lines(self, decision: AdjudicationDecision) -> None:
        assert self.received is not None
        submitted = {line.line_number: line.charge_amount for line in self.received.lines}
        decided = {line.line_number: line.charge_amount for line in decision.lines}
        if decision.outcome == "info_requested":
            # A pend pays and counts nothing; its lines, when it carries any, must still be ours.
            if decision.info_request is None:
                raise DecisionMismatch(f"decision {decision.adjudication_id} pends the claim without saying why")
            if not set(decision.info_request.line_numbers) <= submitted.keys():
                raise DecisionMismatch(f"decision {decision.adjudication_id} asks about lines the claim does not have")
            if decided and submitted != decided:
                raise DecisionMismatch(
                    f"decision {decision.adjudication_id} does not price this claim's lines and charges"
                )
            return
        if submitted != decided:
            raise DecisionMismatch(
                f"decision {decision.adjudication_id} does not price this claim's lines and charges"
            )
        if decision.outcome == "denied" and any(line.paid_amount for line in decision.lines):
            raise DecisionMismatch(f"decision {decision.adjudication_id} is a denial that pays something")

    def record_payment(
        self, *, remittance_id: str, eft_trace_number: str, paid_at: datetime, amount: Decimal | str
    ) -> list[ClaimEvent]:
        """claim.paid once the payment run has paid the processed claim.

        Also from `info_requested` when an operator asked about the claim after it was
        processed and the payment run had already taken it: the money has moved, so the
        payment is a fact the claim records (the request can no longer be answered).
        A closed (voided, replaced) claim refuses it: the payment run reverses it.
        """
        if self.payment is not None and self.payment.remittance_id == remittance_id:
            return []
        payable = self.status is ClaimStatus.PROCESSED or (
            self.status is ClaimStatus.INFO_REQUESTED and self.adjudication is not None
            and self.payment is None and self.open_info_request is not None
            and self.open_info_request.requested_by == "operator"
        )
        if not payable:
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

    def request_info(
        self,
        *,
        info_request_id: str,
        rarc: str,
        message: str,
        due_in_days: int,
        requested_at: datetime,
        line_numbers: Iterable[int] = (),
    ) -> list[ClaimEvent]:
        """claim.info_requested by an operator: the claim waits for documentation.

        From `received` (before or instead of a decision) or `processed` (not yet paid:
        the payment run pays only processed claims); a paid, denied or closed claim, or
        one already waiting on a request, is refused. The same request again (its id:
        the caller's Idempotency-Key) is a no-op: whether it is the same body is the
        caller's check, against `info_requests[info_request_id]`.
        """
        if info_request_id in self.info_requests:
            return []
        if self.status not in (ClaimStatus.RECEIVED, ClaimStatus.PROCESSED):
            raise InvalidTransition(f"a {self.status} claim cannot be asked for information")
        if due_in_days < 1:
            raise ValueError("an info request is due at least a day after it is made")
        assert self.received is not None
        numbers = sorted(set(line_numbers))
        if not set(numbers) <= {line.line_number for line in self.received.lines}:
            raise ClaimError("the request names lines the claim does not have")
        at = _utc(requested_at)
        payload = ClaimInfoRequested(
            claim_id=self.claim_id,
            info_request_id=info_request_id,
            requested_at=at,
            due_by=at.date() + timedelta(days=due_in_days),
            carc=MISSING_INFORMATION_CARC,
            rarc=rarc,
            message=message,
            requested_by="operator",
            line_numbers=numbers,
        )
        return [self._next(CLAIM_INFO_REQUESTED, payload)]

    def answer_info_request(
        self,
        info_request_id: str,
        answered_at: datetime,
        message_id: str | None = None,
        attachment_ids: Iterable[str] = (),
    ) -> list[ClaimEvent]:
        """claim.info_request_answered: the claim goes back to `received`, awaiting a new decision.

        Only an open request of a claim waiting on it, and not after its due date (it
        has expired: the claim is to be denied). A request already answered gives no
        events, whatever the second answer says (the first one stands).
        """
        request = self.info_requests.get(info_request_id)
        if request is None:
            raise UnknownInfoRequest(f"claim {self.claim_id} has no info request {info_request_id}")
        if not request.is_open:
            return []
        if self.status is not ClaimStatus.INFO_REQUESTED:
            raise InvalidTransition(f"a {self.status} claim does not wait on an answer")
        at = _utc(answered_at)
        if request.is_expired_on(at.date()):
            raise InvalidTransition(f"info request {info_request_id} expired on {request.due_by}")
        payload = ClaimInfoRequestAnswered(
            claim_id=self.claim_id,
            info_request_id=info_request_id,
            answered_at=at,
            message_id=message_id,
            attachment_ids=list(attachment_ids),
        )
        return [self._next(CLAIM_INFO_REQUEST_ANSWERED, payload)]

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


_HANDLERS: dict[str, Callable[[Claim, Mapping[str, Any], int], None]] = {
    CLAIM_RECEIVED: Claim._on_received,
    CLAIM_PROCESSED: lambda claim, data, _: claim._on_adjudicated(ClaimStatus.PROCESSED, data),
    CLAIM_DENIED: lambda claim, data, _: claim._on_adjudicated(ClaimStatus.DENIED, data),
    CLAIM_PAID: lambda claim, data, _: claim._on_paid(data),
    CLAIM_VOIDED: lambda claim, data, _: claim._on_voided(data),
    CLAIM_REPLACED: lambda claim, data, _: claim._on_replaced(data),
    CLAIM_CLOSURE_RESERVED: lambda claim, data, _: claim._on_closure_reserved(data),
    CLAIM_INFO_REQUESTED: lambda claim, data, _: claim._on_info_requested(data),
    CLAIM_INFO_REQUEST_ANSWERED: Claim._on_info_request_answered,
}
