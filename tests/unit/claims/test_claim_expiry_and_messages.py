"""An info request expiring unanswered, and the claim's message thread, on the Claim aggregate."""

from datetime import timedelta
from decimal import Decimal

import pytest

from claim_samples import RECEIVED_AT, submission
from test_claim_aggregate import ADJUDICATED_AT, CLAIM_ID, commit, received_claim
from test_claim_info_requests import ANSWERED_AT, answered_claim, pend, pended_claim
from services.claims.domain import (
    CLAIM_DENIED,
    CLAIM_INFO_REQUEST_EXPIRED,
    CLAIM_MESSAGE_POSTED,
    Claim,
    ClaimStatus,
    InvalidTransition,
    UnknownInfoRequest,
    info_request_id_for,
)
from services.claims.status_view import project

REQUEST = info_request_id_for("ADJ-1")
AFTER_DUE = ADJUDICATED_AT + timedelta(days=47)


def test_an_unanswered_request_past_due_expires_and_the_claim_is_denied_co16_with_its_rarc():
    claim = pended_claim()
    assert claim.expire_info_request(REQUEST, ADJUDICATED_AT + timedelta(days=45)) == []  # still its due date
    expired, denied = claim.expire_info_request(REQUEST, AFTER_DUE)
    assert (expired.type, expired.version, denied.type, denied.version) == (
        CLAIM_INFO_REQUEST_EXPIRED, 3, CLAIM_DENIED, 4)
    assert expired.data["rarc"] == "N350" and expired.data["due_at"] == "2026-04-25T00:00:00Z"
    commit(claim, [expired, denied])
    assert claim.status is ClaimStatus.DENIED
    assert claim.adjudication.reason_codes == ["CO-16", "N350"]
    for line in claim.adjudication.lines:
        assert line.paid_amount == Decimal("0.00")
        assert [(a.group, a.carc, a.rarc, a.amount) for a in line.adjustments] == [
            ("CO", "16", "N350", line.charge_amount)]
    assert claim.adjudication.totals.charge == claim.received.total_charge
    assert claim.expire_info_request(REQUEST, AFTER_DUE) == []  # once
    assert [(t.status, t.reason_codes) for t in claim.timeline[-3:]] == [
        (ClaimStatus.INFO_REQUESTED, ("CO-16", "N350")), (ClaimStatus.INFO_REQUESTED, ("CO-16", "N350")),
        (ClaimStatus.DENIED, ("CO-16", "N350"))]
    with pytest.raises(InvalidTransition):
        claim.answer_info_request(REQUEST, AFTER_DUE)


def test_an_expiry_whose_denial_was_lost_is_finished_by_the_next_sweep():
    claim = pended_claim()
    expired, _ = claim.expire_info_request(REQUEST, AFTER_DUE)
    commit(claim, [expired])  # the process died before the denial
    (denied,) = claim.expire_info_request(REQUEST, AFTER_DUE + timedelta(minutes=1))
    assert denied.type == CLAIM_DENIED and denied.data["adjudicated_at"] == expired.data["expired_at"]


def test_an_answered_request_or_a_closed_claim_expires_nothing():
    assert answered_claim().expire_info_request(REQUEST, AFTER_DUE) == []
    claim = pended_claim()
    commit(claim, claim.void(voided_by_claim_id="C-9", voided_at=ANSWERED_AT))
    assert claim.expire_info_request(REQUEST, AFTER_DUE) == []
    with pytest.raises(UnknownInfoRequest):
        claim.expire_info_request("IR-NOPE", AFTER_DUE)


def test_a_request_due_in_seconds():
    claim = received_claim()
    commit(claim, claim.request_info(info_request_id="IR-S", rarc="M127", message="Send notes.", due_in_days=45,
                                     requested_at=ANSWERED_AT, due_in_seconds=5))
    request = claim.info_requests["IR-S"]
    assert request.due_instant == ANSWERED_AT + timedelta(seconds=5) and request.due_by == ANSWERED_AT.date()
    assert claim.expire_info_request("IR-S", ANSWERED_AT + timedelta(seconds=4)) == []
    assert len(claim.expire_info_request("IR-S", ANSWERED_AT + timedelta(seconds=5))) == 2


def test_a_pend_due_in_seconds_by_setting():
    claim = received_claim()
    (event,) = claim.apply_decision(pend(), info_request_due_seconds=3)
    assert event.data["due_at"] == (ADJUDICATED_AT + timedelta(seconds=3)).isoformat().replace("+00:00", "Z")


def test_messages_join_the_thread_once_and_answers_text_too():
    claim = answered_claim()  # its answer's text is MSG-1
    (posted,) = claim.post_message(message_id="MSG-2", author_party="payer", author_role="operator",
                                   posted_at=ANSWERED_AT, attachment_ids=["ATT-1"])
    assert posted.type == CLAIM_MESSAGE_POSTED and "body" not in posted.data
    commit(claim, [posted])
    assert claim.message_ids == ["MSG-1", "MSG-2"]
    assert claim.post_message(message_id="MSG-2", author_party="payer", author_role="operator",
                              posted_at=ANSWERED_AT) == []
    assert claim.status is ClaimStatus.RECEIVED  # a message changes no status


def test_the_status_view_shows_the_expiry_step_and_the_denial():
    history = Claim.receive(CLAIM_ID, submission(), organization_id="ORG-1", received_at=RECEIVED_AT)
    claim = Claim.from_events(history)
    for events in (lambda c: c.apply_decision(pend()), lambda c: c.expire_info_request(REQUEST, AFTER_DUE)):
        new = events(claim)
        commit(claim, new)
        history += new
    view = None
    for event in history:
        view = project(view, event.type, dict(event.data), event.version) or view
    assert view["status"] == "denied"
    assert view["info_requests"][0]["status"] == "expired"
    assert [(t["status"], t.get("step"), t.get("reason_codes")) for t in view["timeline"]] == [
        ("received", None, None), ("info_requested", None, ["CO-16", "N350"]),
        ("info_requested", "info_request_expired", ["CO-16", "N350"]), ("denied", None, ["CO-16", "N350"])]
