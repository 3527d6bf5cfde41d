"""The Authorization aggregate: a prior-authorization request, its state from its events.

Command methods decide and return new events without changing the state; the
repository appends them at the expected version and only then folds them in (as
for claims). Statuses: submitted -> in_review -> (info_requested -> in_review)* ->
approved | denied; cancelled by the provider while undecided; approved -> expired
after its end date. `overdue` is a flag, not a status: undecided past the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from contracts.events import authorizations as contract
from contracts.events.authorizations import (
    AuthorizationApproved,
    AuthorizationDenied,
    AuthorizationExpired,
    AuthorizationInfoRequestAnswered,
    AuthorizationMessagePosted,
    AuthorizationStatusChanged,
    AuthorizationSubmitted,
    AuthorizationUnitsRecorded,
)

UNDECIDED = frozenset({"submitted", "in_review", "info_requested"})
DECIDABLE = frozenset({"submitted", "in_review"})
NO_AUTHORIZATION_REQUIRED = "no-prior-authorization-required"
"""The rule id of a request whose codes need no authorization: approved at once."""
SYSTEM_NOTES = {NO_AUTHORIZATION_REQUIRED: "no prior authorization required"}


class AuthorizationError(Exception):
    """A command the authorization cannot accept."""


class InvalidTransition(AuthorizationError):
    """The status does not allow the command (409)."""


class InvalidDecision(AuthorizationError):
    """The decision does not fit the request (422): units, window, missing reason."""

    def __init__(self, loc: str, code: str, message: str) -> None:
        super().__init__(message)
        self.loc, self.code, self.message = loc, code, message


class UnknownInfoRequest(AuthorizationError):
    """No info request of this authorization has the id (404)."""


@dataclass(frozen=True)
class Change:
    """A new event as the aggregate decided it (infra/aggregates.py Change)."""

    type: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class InfoRequest:
    info_request_id: str
    requested_at: datetime
    message_id: str | None
    answered_at: datetime | None = None
    answer_message_id: str | None = None
    attachment_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    decision: str
    """approved | denied"""
    at: datetime
    decided_by_role: str
    reason_code: str | None = None
    rule: str | None = None
    note_message_id: str | None = None
    approved_units: int | None = None
    start_date: date | None = None
    end_date: date | None = None

    @property
    def system_note(self) -> str | None:
        if self.rule is None:
            return None
        return SYSTEM_NOTES.get(self.rule, f"approved by auto-approval rule {self.rule}")


@dataclass(frozen=True)
class TimelineEntry:
    status: str
    at: datetime


def _instant(at: datetime) -> str:
    return at.isoformat()


class Authorization:
    def __init__(self, authorization_id: str) -> None:
        self.authorization_id = authorization_id
        self.version = 0
        self.status: str | None = None
        self.submitted: AuthorizationSubmitted | None = None
        self.decision: Decision | None = None
        self.timeline: list[TimelineEntry] = []
        self.info_requests: dict[str, InfoRequest] = {}
        self.message_ids: list[str] = []
        self.overdue_marked_at: datetime | None = None
        self.expired_at: datetime | None = None
        self.used_units = 0
        self.adjudication_ids: set[str] = set()

    # ------------------------------------------------------------- reading

    @property
    def organization_id(self) -> str:
        assert self.submitted is not None
        return self.submitted.organization_id

    @property
    def member_id(self) -> str:
        assert self.submitted is not None
        return self.submitted.member_id

    @property
    def is_undecided(self) -> bool:
        return self.status in UNDECIDED

    def is_overdue(self, now: datetime) -> bool:
        """Undecided past its decision clock (read off the clock; the sweeper records it once)."""
        return self.submitted is not None and self.is_undecided and now >= self.submitted.decision_due_at

    @property
    def open_info_request(self) -> InfoRequest | None:
        return next((r for r in self.info_requests.values() if r.answered_at is None), None)

    # ------------------------------------------------------------ commands

    @staticmethod
    def submit(payload: AuthorizationSubmitted, auto_rule: str | None = None) -> list[Change]:
        """The request; approved at once (by the system) when no code needs authorization or a rule approves."""
        changes = [Change(contract.AUTHORIZATION_SUBMITTED, payload.to_data())]
        rule = NO_AUTHORIZATION_REQUIRED if not payload.codes_requiring_authorization else auto_rule
        if rule is not None:
            changes.append(_approved(payload, payload.requested_units, payload.start_date, payload.end_date,
                                     at=payload.submitted_at, decided_by_role="system", rule=rule))
        return changes

    def take_for_review(self, *, at: datetime, by_role: str) -> list[Change]:
        if self.status == "in_review":
            return []  # already taken: a retry
        if self.status != "submitted":
            raise InvalidTransition(f"a request that is {self.status} cannot be taken for review")
        return [self._status_change(contract.AUTHORIZATION_IN_REVIEW, at, by_role=by_role)]

    def approve(self, *, at: datetime, by_role: str, approved_units: int | None = None,
                start_date: date | None = None, end_date: date | None = None,
                note_message_id: str | None = None) -> list[Change]:
        request = self._decidable()
        units = request.requested_units if approved_units is None else approved_units
        start, end = start_date or request.start_date, end_date or request.end_date
        if not 1 <= units <= request.requested_units:
            raise InvalidDecision("approved_units", "approved_units_out_of_range",
                                  f"approved units must be between 1 and the {request.requested_units} requested")
        if start > end:
            raise InvalidDecision("end_date", "end_before_start", "the validity window ends before it starts")
        if start < request.start_date or end > request.end_date:
            raise InvalidDecision("start_date" if start < request.start_date else "end_date", "window_outside_request",
                                  "the validity window must lie within the requested dates")
        return [_approved(request, units, start, end, at=at, decided_by_role=by_role, note_message_id=note_message_id)]

    def deny(self, *, at: datetime, by_role: str, reason_code: str | None,
             note_message_id: str | None = None) -> list[Change]:
        request = self._decidable()
        if not reason_code:
            raise InvalidDecision("reason_code", "missing_reason_code",
                                  "a denial needs a specific reason code (CMS-0057-F)")
        return [Change(contract.AUTHORIZATION_DENIED, AuthorizationDenied(
            authorization_id=self.authorization_id, member_id=request.member_id,
            organization_id=request.organization_id, reason_code=reason_code, denied_at=at,
            procedure_codes=list(request.procedure_codes), decided_by_role=by_role, note_message_id=note_message_id,
        ).to_data())]

    def request_info(self, *, info_request_id: str, message_id: str, at: datetime, by_role: str) -> list[Change]:
        if info_request_id in self.info_requests:
            return []  # a retry of the same request
        self._decidable()
        return [self._status_change(contract.AUTHORIZATION_INFO_REQUESTED, at, by_role=by_role,
                                    info_request_id=info_request_id, message_id=message_id)]

    def answer_info_request(self, info_request_id: str, *, at: datetime, message_id: str | None,
                            attachment_ids: list[str]) -> list[Change]:
        request = self.info_requests.get(info_request_id)
        if request is None:
            raise UnknownInfoRequest(info_request_id)
        if request.answered_at is not None:
            return []
        if self.status != "info_requested":
            raise InvalidTransition(f"a request that is {self.status} takes no answer")
        submitted = self._submitted()
        return [Change(contract.AUTHORIZATION_INFO_REQUEST_ANSWERED, AuthorizationInfoRequestAnswered(
            authorization_id=self.authorization_id, member_id=submitted.member_id,
            organization_id=submitted.organization_id, info_request_id=info_request_id, answered_at=at,
            message_id=message_id, attachment_ids=list(attachment_ids),
        ).to_data())]

    def cancel(self, *, at: datetime) -> list[Change]:
        if self.status == "cancelled":
            return []
        if not self.is_undecided:
            raise InvalidTransition(f"a request that is {self.status} cannot be cancelled")
        return [self._status_change(contract.AUTHORIZATION_CANCELLED, at, by_role="provider")]

    def mark_overdue(self, now: datetime) -> list[Change]:
        """Once: an undecided request past its clock (extensions are not automatic)."""
        if self.overdue_marked_at is not None or not self.is_overdue(now):
            return []
        return [self._status_change(contract.AUTHORIZATION_OVERDUE, now, by_role="system")]

    def expire(self, now: datetime) -> list[Change]:
        """An approved authorization past its (inclusive) end date."""
        if self.status != "approved" or self.decision is None or self.decision.end_date is None:
            return []
        if now.date() <= self.decision.end_date:
            return []
        submitted = self._submitted()
        return [Change(contract.AUTHORIZATION_EXPIRED, AuthorizationExpired(
            authorization_id=self.authorization_id, member_id=submitted.member_id,
            organization_id=submitted.organization_id, expired_at=now,
        ).to_data())]

    def record_units(self, *, adjudication_id: str, claim_id: str, units: int, at: datetime) -> list[Change]:
        """Adjudication's units used (or given back), once per adjudication."""
        if adjudication_id in self.adjudication_ids or units == 0:
            return []
        submitted = self._submitted()
        return [Change(contract.AUTHORIZATION_UNITS_RECORDED, AuthorizationUnitsRecorded(
            authorization_id=self.authorization_id, member_id=submitted.member_id,
            organization_id=submitted.organization_id, adjudication_id=adjudication_id, claim_id=claim_id,
            units=units, used_units=self.used_units + units, recorded_at=at,
        ).to_data())]

    def post_message(self, *, message_id: str, author_party: str, author_role: str, posted_at: datetime,
                     attachment_ids: list[str]) -> list[Change]:
        if message_id in self.message_ids:
            return []
        submitted = self._submitted()
        return [Change(contract.AUTHORIZATION_MESSAGE_POSTED, AuthorizationMessagePosted(
            authorization_id=self.authorization_id, member_id=submitted.member_id,
            organization_id=submitted.organization_id, message_id=message_id, author_party=author_party,
            author_role=author_role, posted_at=posted_at, attachment_ids=list(attachment_ids),
        ).to_data())]

    # ---------------------------------------------------------------- fold

    def apply(self, event_type: str, version: int, data: Mapping[str, Any]) -> Authorization:
        if version != self.version + 1:
            raise ValueError(f"event version {version} does not follow {self.version}")
        handler = _HANDLERS.get(event_type)
        if handler is None:
            raise ValueError(f"unknown authorization event type {event_type!r}")
        handler(self, data)
        self.version = version
        return self

    def _on_submitted(self, data: Mapping[str, Any]) -> None:
        self.submitted = AuthorizationSubmitted.model_validate(data)
        self._enter("submitted", self.submitted.submitted_at)

    def _on_status_changed(self, status: str, data: Mapping[str, Any]) -> None:
        changed = AuthorizationStatusChanged.model_validate(data)
        if status == "info_requested" and changed.info_request_id:
            self.info_requests[changed.info_request_id] = InfoRequest(
                changed.info_request_id, changed.at, changed.message_id)
            self._note(changed.message_id)
        self._enter(status, changed.at)

    def _on_overdue(self, data: Mapping[str, Any]) -> None:
        self.overdue_marked_at = AuthorizationStatusChanged.model_validate(data).at

    def _on_approved(self, data: Mapping[str, Any]) -> None:
        approved = AuthorizationApproved.model_validate(data)
        self.decision = Decision("approved", approved.approved_at, approved.decided_by_role or "reviewer",
                                 rule=approved.rule, note_message_id=approved.note_message_id,
                                 approved_units=approved.approved_units, start_date=approved.start_date,
                                 end_date=approved.end_date)
        self._note(approved.note_message_id)
        self._enter("approved", approved.approved_at)

    def _on_denied(self, data: Mapping[str, Any]) -> None:
        denied = AuthorizationDenied.model_validate(data)
        self.decision = Decision("denied", denied.denied_at, denied.decided_by_role or "reviewer",
                                 reason_code=denied.reason_code, note_message_id=denied.note_message_id)
        self._note(denied.note_message_id)
        self._enter("denied", denied.denied_at)

    def _on_expired(self, data: Mapping[str, Any]) -> None:
        self.expired_at = AuthorizationExpired.model_validate(data).expired_at
        self._enter("expired", self.expired_at)

    def _on_answered(self, data: Mapping[str, Any]) -> None:
        answered = AuthorizationInfoRequestAnswered.model_validate(data)
        self.info_requests[answered.info_request_id] = replace(
            self.info_requests[answered.info_request_id], answered_at=answered.answered_at,
            answer_message_id=answered.message_id, attachment_ids=tuple(answered.attachment_ids))
        self._note(answered.message_id)
        self._enter("in_review", answered.answered_at)

    def _on_message(self, data: Mapping[str, Any]) -> None:
        self._note(AuthorizationMessagePosted.model_validate(data).message_id)

    def _on_units(self, data: Mapping[str, Any]) -> None:
        recorded = AuthorizationUnitsRecorded.model_validate(data)
        self.adjudication_ids.add(recorded.adjudication_id)
        self.used_units += recorded.units

    # ------------------------------------------------------------- helpers

    def _note(self, message_id: str | None) -> None:
        if message_id and message_id not in self.message_ids:
            self.message_ids.append(message_id)

    def _enter(self, status: str, at: datetime) -> None:
        self.status = status
        self.timeline.append(TimelineEntry(status, at))

    def _submitted(self) -> AuthorizationSubmitted:
        if self.submitted is None:
            raise InvalidTransition("no such request")
        return self.submitted

    def _decidable(self) -> AuthorizationSubmitted:
        submitted = self._submitted()
        if self.status not in DECIDABLE:
            raise InvalidTransition(f"a request that is {self.status} cannot be decided")
        return submitted

    def _status_change(self, event_type: str, at: datetime, **extra: Any) -> Change:
        submitted = self._submitted()
        return Change(event_type, AuthorizationStatusChanged(
            authorization_id=self.authorization_id, member_id=submitted.member_id,
            organization_id=submitted.organization_id, at=at, **extra,
        ).to_data())


def _approved(request: AuthorizationSubmitted, units: int, start: date, end: date, *, at: datetime,
              decided_by_role: str, rule: str | None = None, note_message_id: str | None = None) -> Change:
    return Change(contract.AUTHORIZATION_APPROVED, AuthorizationApproved(
        authorization_id=request.authorization_id, member_id=request.member_id,
        organization_id=request.organization_id, procedure_codes=list(request.procedure_codes),
        approved_units=units, start_date=start, end_date=end, approved_at=at, urgency=request.urgency,
        rule=rule, decided_by_role=decided_by_role, requested_units=request.requested_units,
        note_message_id=note_message_id,
    ).to_data())


_HANDLERS = {
    contract.AUTHORIZATION_SUBMITTED: Authorization._on_submitted,
    contract.AUTHORIZATION_IN_REVIEW: lambda self, data: self._on_status_changed("in_review", data),
    contract.AUTHORIZATION_INFO_REQUESTED: lambda self, data: self._on_status_changed("info_requested", data),
    contract.AUTHORIZATION_CANCELLED: lambda self, data: self._on_status_changed("cancelled", data),
    contract.AUTHORIZATION_OVERDUE: Authorization._on_overdue,
    contract.AUTHORIZATION_APPROVED: Authorization._on_approved,
    contract.AUTHORIZATION_DENIED: Authorization._on_denied,
    contract.AUTHORIZATION_EXPIRED: Authorization._on_expired,
    contract.AUTHORIZATION_INFO_REQUEST_ANSWERED: Authorization._on_answered,
    contract.AUTHORIZATION_MESSAGE_POSTED: Authorization._on_message,
    contract.AUTHORIZATION_UNITS_RECORDED: Authorization._on_units,
}
