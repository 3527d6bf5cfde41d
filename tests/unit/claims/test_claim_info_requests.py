"""Info requests on the Claim aggregate: a pending decision, an operator's request, the answer."""

from datetime import date, timedelta

import pytest

from claim_samples import RECEIVED_AT, submission
from test_claim_aggregate import ADJUDICATED_AT, CLAIM_ID, commit, decision, denied_line, received_claim
from services.claims.domain import (
    CLAIM_DENIED,
    CLAIM_INFO_REQUEST_ANSWERED,
    CLAIM_INFO_REQUESTED,
    CLAIM_PROCESSED,
    Claim,
    ClaimError,
    ClaimStatus,
    DecisionMismatch,
    InvalidTransition,
    UnknownInfoRequest,
    info_request_id_for,
)

ANSWERED_AT = ADJUDICATED_AT + timedelta(days=3)


def pend(adjudication_id="ADJ-1", *, claim_version=1, rarc="N350", line_numbers=(1,)):
    body = decision(adjudication_id, outcome="info_requested")
    body["claim_version"] = claim_version
    body["info_request"] = {"carc": "16", "rarc": rarc, "line_numbers": list(line_numbers),
                            "message": "Describe the unlisted service on line 1."}
    return body


def pended_claim(**kwargs):
    claim = received_claim()
    return commit(claim, claim.apply_decision(pend(), **kwargs))


def answered_claim():
    claim = pended_claim()
    return commit(claim, claim.answer_info_request(info_request_id_for("ADJ-1"), ANSWERED_AT,
                                                   message_id="MSG-1", attachment_ids=["ATT-1"]))


# ------------------------------------------------------------ a pending decision


def test_a_pending_decision_asks_for_information():
    claim = received_claim()
    (event,) = claim.apply_decision(pend())
    assert (event.type, event.version) == (CLAIM_INFO_REQUESTED, 2)
    assert event.data == {
        "claim_id": CLAIM_ID, "info_request_id": info_request_id_for("ADJ-1"),
        "requested_at": "2026-03-10T14:32:00Z", "due_by": "2026-04-24",  # 45 days
        "carc": "16", "rarc": "N350", "message": "Describe the unlisted service on line 1.",
        "requested_by": "adjudication", "adjudication_id": "ADJ-1", "line_numbers": [1],
    }
    commit(claim, [event])
    assert claim.status is ClaimStatus.INFO_REQUESTED
    assert claim.timeline[-1].status is ClaimStatus.INFO_REQUESTED
    assert claim.timeline[-1].at == ADJUDICATED_AT
    assert claim.timeline[-1].reason_codes == ("CO-16", "N350")
    assert claim.open_info_request.info_request_id == info_request_id_for("ADJ-1")
    assert claim.adjudication is None  # nothing priced, nothing payable


def test_the_due_date_is_configurable_and_the_id_deterministic():
    first = received_claim().apply_decision(pend(), info_request_due_days=10)
    again = received_claim().apply_decision(pend(), info_request_due_days=10)
    assert first == again
    assert first[0].data["due_by"] == "2026-03-20"
    assert info_request_id_for("ADJ-1") != info_request_id_for("ADJ-2")


def test_the_same_pending_decision_again_is_a_no_op():
    claim = pended_claim()
    assert claim.apply_decision(pend()) == []
    events = Claim.receive(CLAIM_ID, submission(), organization_id="ORG-1", received_at=RECEIVED_AT)
    events += Claim.from_events(events).apply_decision(pend())
    rebuilt = Claim.from_events(events)
    assert rebuilt.apply_decision(pend()) == []
    assert rebuilt.info_requests == claim.info_requests and rebuilt.timeline == claim.timeline


def test_a_pending_decision_must_say_why_and_name_our_lines():
    no_reason = pend()
    del no_reason["info_request"]
    with pytest.raises(DecisionMismatch):
        received_claim().apply_decision(no_reason)
    with pytest.raises(DecisionMismatch):
        received_claim().apply_decision(pend(line_numbers=(7,)))


def test_a_pending_decision_without_priced_lines_is_accepted():
    body = pend()
    body["lines"] = []
    body["totals"] = {"charge": "175.00", "allowed": "0.00", "paid": "0.00", "patient_responsibility": "0.00"}
    (event,) = received_claim().apply_decision(body)
    assert event.type == CLAIM_INFO_REQUESTED


def test_another_decision_on_a_pended_claim_is_refused():
    with pytest.raises(InvalidTransition):
        pended_claim().apply_decision(decision("ADJ-2"))


# --------------------------------------------------------------------- answers


def test_pend_answer_then_processed():
    claim = pended_claim()
    history = Claim.receive(CLAIM_ID, submission(), organization_id="ORG-1", received_at=RECEIVED_AT)
    history += Claim.from_events(history).apply_decision(pend())
    request_id = info_request_id_for("ADJ-1")
    (event,) = claim.answer_info_request(request_id, ANSWERED_AT, message_id="MSG-1", attachment_ids=["ATT-1"])
    assert (event.type, event.version) == (CLAIM_INFO_REQUEST_ANSWERED, 3)
    assert event.data == {"claim_id": CLAIM_ID, "info_request_id": request_id,
                          "answered_at": "2026-03-13T14:32:00Z", "message_id": "MSG-1",
                          "attachment_ids": ["ATT-1"]}
    commit(claim, [event])
    history.append(event)
    assert claim.status is ClaimStatus.RECEIVED
    assert claim.timeline[-1].status is ClaimStatus.RECEIVED and claim.timeline[-1].at == ANSWERED_AT
    assert claim.open_info_request is None
    assert claim.info_requests[request_id].answer.attachment_ids == ["ATT-1"]

    redecided = decision("ADJ-2")
    redecided["claim_version"] = 3  # adjudication decides the answered version again
    (processed,) = claim.apply_decision(redecided)
    assert (processed.type, processed.version) == (CLAIM_PROCESSED, 4)
    commit(claim, [processed])
    history.append(processed)
    assert claim.status is ClaimStatus.PROCESSED
    assert [t.status for t in claim.timeline] == ["received", "info_requested", "received", "processed"]
    rebuilt = Claim.from_events(history)
    assert rebuilt.timeline == claim.timeline and rebuilt.info_requests == claim.info_requests
    assert rebuilt.awaiting_decision_since == 3 and rebuilt.adjudication_ids == {"ADJ-1", "ADJ-2"}


def test_after_an_answer_the_claim_may_pend_again_or_be_denied():
    claim = answered_claim()
    again = pend("ADJ-2", claim_version=3, rarc="M127")
    commit(claim, claim.apply_decision(again))
    assert claim.status is ClaimStatus.INFO_REQUESTED
    assert len(claim.info_requests) == 2 and claim.open_info_request.rarc == "M127"

    other = answered_claim()
    denial = decision("ADJ-2", outcome="denied",
                      lines=[denied_line(1, "99213", "150.00"), denied_line(2, "83036", "25.00")])
    denial["claim_version"] = 3
    (event,) = other.apply_decision(denial)
    assert event.type == CLAIM_DENIED


def test_a_decision_made_before_the_answer_is_stale():
    claim = answered_claim()
    with pytest.raises(InvalidTransition):
        claim.apply_decision(decision("ADJ-OLD"))  # claim_version 1: before the documentation
    assert claim.apply_decision(pend()) == []  # the pending decision itself, redelivered


def test_a_duplicate_answer_changes_nothing():
    claim = answered_claim()
    request_id = info_request_id_for("ADJ-1")
    assert claim.answer_info_request(request_id, ANSWERED_AT, message_id="MSG-1", attachment_ids=["ATT-1"]) == []
    assert claim.answer_info_request(request_id, ANSWERED_AT + timedelta(hours=1)) == []  # the first one stands
    assert claim.version == 3


def test_an_answer_to_an_unknown_request_is_refused():
    with pytest.raises(UnknownInfoRequest):
        pended_claim().answer_info_request("IR-NOPE", ANSWERED_AT)


def test_an_answer_after_the_due_date_is_refused():
    claim = pended_claim()
    due_by = claim.open_info_request.due_by
    assert due_by == date(2026, 4, 24)
    late = ADJUDICATED_AT + timedelta(days=46)
    assert claim.open_info_request.is_expired_on(late.date())
    with pytest.raises(InvalidTransition):
        claim.answer_info_request(info_request_id_for("ADJ-1"), late)
    on_the_day = ADJUDICATED_AT + timedelta(days=45)
    assert claim.answer_info_request(info_request_id_for("ADJ-1"), on_the_day)


@pytest.mark.parametrize("close", ["void", "replace"])
def test_an_answer_to_a_request_of_a_closed_claim_is_refused(close):
    claim = pended_claim()
    if close == "void":
        commit(claim, claim.void(voided_by_claim_id="C-9", voided_at=ANSWERED_AT))
    else:
        commit(claim, claim.replace(replaced_by_claim_id="C-9", replaced_at=ANSWERED_AT))
    with pytest.raises(InvalidTransition):
        claim.answer_info_request(info_request_id_for("ADJ-1"), ANSWERED_AT)


def test_an_answer_needs_a_timezone():
    with pytest.raises(ValueError):
        pended_claim().answer_info_request(info_request_id_for("ADJ-1"), ANSWERED_AT.replace(tzinfo=None))


# ------------------------------------------------------------ operator requests


def _operator_request(claim, request_id="IR-OP-1", **overrides):
    arguments = dict(info_request_id=request_id, rarc="M127", message="Send the operative note.",
                     due_in_days=30, requested_at=ANSWERED_AT)
    arguments.update(overrides)
    return claim.request_info(**arguments)


def test_an_operator_asks_a_received_claim():
    claim = received_claim()
    (event,) = _operator_request(claim)
    assert event.type == CLAIM_INFO_REQUESTED
    assert event.data == {
        "claim_id": CLAIM_ID, "info_request_id": "IR-OP-1", "requested_at": "2026-03-13T14:32:00Z",
        "due_by": "2026-04-12", "carc": "16", "rarc": "M127", "message": "Send the operative note.",
        "requested_by": "operator", "line_numbers": [],
    }
    commit(claim, [event])
    assert claim.status is ClaimStatus.INFO_REQUESTED
    assert claim.timeline[-1].reason_codes == ("CO-16", "M127")
    assert _operator_request(claim) == []  # the same request again
    # Adjudication's decision on the received version arrives late: the claim waits on the answer.
    with pytest.raises(InvalidTransition):
        claim.apply_decision(decision())
    commit(claim, claim.answer_info_request("IR-OP-1", ANSWERED_AT + timedelta(days=1)))
    with pytest.raises(InvalidTransition):
        claim.apply_decision(decision())  # still the decision on version 1: stale
    fresh = decision("ADJ-2")
    fresh["claim_version"] = 3
    assert claim.apply_decision(fresh)[0].type == CLAIM_PROCESSED


def test_a_payment_already_issued_when_an_operator_asked_is_recorded():
    # The payments process withdraws a processed claim an operator asks about, unless a
    # payment run had already taken it: then the money moved, and the claim records it.
    claim = received_claim()
    commit(claim, claim.apply_decision(decision()))
    commit(claim, _operator_request(claim))
    assert claim.status is ClaimStatus.INFO_REQUESTED
    commit(claim, claim.record_payment(remittance_id="R-1", eft_trace_number="T", paid_at=ANSWERED_AT,
                                       amount="129.62"))
    assert claim.status is ClaimStatus.PAID
    with pytest.raises(InvalidTransition):
        claim.answer_info_request(next(iter(claim.info_requests)), ANSWERED_AT)


def test_a_claim_pended_by_adjudication_cannot_be_paid():
    claim = received_claim()
    pend = decision("ADJ-P")
    pend.update(outcome="info_requested", info_request={"rarc": "N350", "line_numbers": [1], "message": "describe"})
    commit(claim, claim.apply_decision(pend))
    with pytest.raises(InvalidTransition):
        claim.record_payment(remittance_id="R-1", eft_trace_number="T", paid_at=ANSWERED_AT, amount="129.62")


def test_an_operator_cannot_ask_a_paid_denied_closed_or_waiting_claim():
    paid = received_claim()
    commit(paid, paid.apply_decision(decision()))
    commit(paid, paid.record_payment(remittance_id="R-1", eft_trace_number="T", paid_at=ANSWERED_AT,
                                     amount="129.62"))
    voided = received_claim()
    commit(voided, voided.void(voided_by_claim_id="C-9", voided_at=ANSWERED_AT))
    for claim in (paid, voided, pended_claim()):
        with pytest.raises(InvalidTransition):
            _operator_request(claim)


def test_an_operator_request_names_only_our_lines_and_a_future_due_date():
    with pytest.raises(ClaimError):
        _operator_request(received_claim(), line_numbers=[3])
    with pytest.raises(ValueError):
        _operator_request(received_claim(), due_in_days=0)
    (event,) = _operator_request(received_claim(), line_numbers=[2, 1, 2])
    assert event.data["line_numbers"] == [1, 2]
