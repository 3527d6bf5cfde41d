"""The Authorization aggregate without I/O: transitions, decisions, overdue once, expiry, units once."""

from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.events import authorizations as events
from contracts.events.authorizations import AuthorizationSubmitted
from services.authorizations.domain import Authorization, InvalidDecision, InvalidTransition, UnknownInfoRequest

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _payload(**overrides) -> AuthorizationSubmitted:
    fields = dict(
        authorization_id="a-1", member_id="M1", organization_id="org-1", requesting_provider_npi="1234567893",
        urgency="standard", procedure_codes=["73721"], diagnosis_codes=["M17.11"], requested_units=4,
        start_date=date(2026, 3, 2), end_date=date(2026, 5, 31), submitted_at=T0,
        decision_due_at=T0 + timedelta(days=7), codes_requiring_authorization=["73721"],
    )
    fields.update(overrides)
    return AuthorizationSubmitted(**fields)


def _fold(changes, state: Authorization | None = None) -> Authorization:
    state = state or Authorization("a-1")
    for change in changes:
        state.apply(change.type, state.version + 1, change.data)
    return state


def _submitted(**overrides) -> Authorization:
    return _fold(Authorization.submit(_payload(**overrides)))


def test_a_request_whose_codes_need_no_authorization_is_approved_at_once_with_a_note():
    changes = Authorization.submit(_payload(codes_requiring_authorization=[]))
    assert [c.type for c in changes] == [events.AUTHORIZATION_SUBMITTED, events.AUTHORIZATION_APPROVED]
    state = _fold(changes)
    assert state.status == "approved"
    assert state.decision.decided_by_role == "system"
    assert state.decision.system_note == "no prior authorization required"
    assert state.decision.approved_units == 4


def test_a_rule_approves_in_the_same_write_and_names_itself():
    state = _fold(Authorization.submit(_payload(), auto_rule="imaging-knee"))
    assert (state.status, state.decision.rule, state.decision.decided_by_role) == ("approved", "imaging-knee", "system")
    assert state.timeline[0].at == state.timeline[1].at


def test_review_info_request_answer_then_approval_with_fewer_units_and_a_narrower_window():
    state = _submitted()
    state = _fold(state.take_for_review(at=T0, by_role="reviewer"), state)
    assert state.take_for_review(at=T0, by_role="reviewer") == []  # a retry
    state = _fold(state.request_info(info_request_id="ir-1", message_id="m-1", at=T0, by_role="reviewer"), state)
    assert state.status == "info_requested"
    with pytest.raises(InvalidTransition):
        state.approve(at=T0, by_role="reviewer")
    with pytest.raises(UnknownInfoRequest):
        state.answer_info_request("nope", at=T0, message_id=None, attachment_ids=[])
    state = _fold(state.answer_info_request("ir-1", at=T0, message_id="m-2", attachment_ids=["att-1"]), state)
    assert state.status == "in_review"
    assert state.info_requests["ir-1"].attachment_ids == ("att-1",)
    state = _fold(state.approve(at=T0, by_role="reviewer", approved_units=3, start_date=date(2026, 3, 10),
                                end_date=date(2026, 4, 30)), state)
    assert (state.status, state.decision.approved_units, state.decision.end_date) == ("approved", 3, date(2026, 4, 30))
    assert [e.status for e in state.timeline] == ["submitted", "in_review", "info_requested", "in_review", "approved"]


@pytest.mark.parametrize("kwargs, code", [
    (dict(approved_units=5), "approved_units_out_of_range"),
    (dict(approved_units=0), "approved_units_out_of_range"),
    (dict(start_date=date(2026, 3, 1)), "window_outside_request"),
    (dict(end_date=date(2026, 6, 1)), "window_outside_request"),
    (dict(start_date=date(2026, 4, 2), end_date=date(2026, 4, 1)), "end_before_start"),
])
def test_an_approval_stays_within_the_request(kwargs, code):
    with pytest.raises(InvalidDecision) as refused:
        _submitted().approve(at=T0, by_role="reviewer", **kwargs)
    assert refused.value.code == code


def test_a_denial_needs_a_reason_and_a_decided_request_cannot_be_cancelled():
    state = _submitted()
    with pytest.raises(InvalidDecision):
        state.deny(at=T0, by_role="reviewer", reason_code=None)
    state = _fold(state.deny(at=T0, by_role="reviewer", reason_code="not_medically_necessary"), state)
    assert (state.status, state.decision.reason_code) == ("denied", "not_medically_necessary")
    with pytest.raises(InvalidTransition):
        state.cancel(at=T0)
    with pytest.raises(InvalidTransition):
        state.approve(at=T0, by_role="reviewer")


def test_a_pending_request_is_cancelled_once():
    state = _fold(_submitted().cancel(at=T0), _submitted())
    assert state.status == "cancelled"
    assert state.cancel(at=T0) == []


def test_overdue_is_marked_once_and_only_while_undecided():
    state = _submitted()
    assert state.mark_overdue(T0 + timedelta(days=6)) == []
    late = T0 + timedelta(days=7)
    assert state.is_overdue(late)
    state = _fold(state.mark_overdue(late), state)
    assert state.status == "submitted" and state.overdue_marked_at == late
    assert state.mark_overdue(late + timedelta(hours=1)) == []
    approved = _fold(_submitted().approve(at=T0, by_role="reviewer"), _submitted())
    assert approved.mark_overdue(late) == [] and not approved.is_overdue(late)


def test_an_approval_expires_the_day_after_its_end_date():
    state = _fold(_submitted().approve(at=T0, by_role="reviewer"), _submitted())
    assert state.expire(datetime(2026, 5, 31, 23, 59, tzinfo=UTC)) == []
    state = _fold(state.expire(datetime(2026, 6, 1, 0, 1, tzinfo=UTC)), state)
    assert state.status == "expired"
    assert state.expire(datetime(2026, 6, 2, tzinfo=UTC)) == []


def test_units_are_recorded_once_per_adjudication_and_give_backs_subtract():
    state = _fold(_submitted().approve(at=T0, by_role="reviewer"), _submitted())
    state = _fold(state.record_units(adjudication_id="adj-1", claim_id="c-1", units=2, at=T0), state)
    assert state.record_units(adjudication_id="adj-1", claim_id="c-1", units=2, at=T0) == []
    state = _fold(state.record_units(adjudication_id="adj-2", claim_id="c-1", units=-2, at=T0), state)
    state = _fold(state.record_units(adjudication_id="adj-3", claim_id="c-2", units=1, at=T0), state)
    assert state.used_units == 1


def test_no_free_text_reaches_the_published_events():
    state = _submitted()
    changes = [*state.request_info(info_request_id="ir-1", message_id="m-1", at=T0, by_role="reviewer"),
               *state.deny(at=T0, by_role="reviewer", reason_code="50", note_message_id="m-9")]
    for change in changes:
        assert "note" not in change.data or change.data["note"] is None
        assert "clinical_notes" not in change.data
