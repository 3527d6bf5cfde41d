from datetime import UTC, date, datetime, timedelta

import pytest

from claim_samples import RECEIVED_AT, submission
from services.claims.domain import Claim
from services.claims.responses import ClaimView
from services.claims.status_view import project, public

RECEIVED = {
    "claim_id": "c-1", "organization_id": "o-1", "member_id": "M1", "fingerprint": "f", "frequency_code": "1",
    "billing_provider": {"npi": "1234567893", "tin": "123456789"}, "received_at": "2026-11-01T10:00:00Z",
    "total_charge": "150.00",
    "lines": [{"line_number": 1, "procedure_code": "99213", "charge_amount": "150.00"}],
}
PROCESSED = {
    "claim_id": "c-1", "adjudication_id": "a-1", "adjudicated_at": "2026-11-01T10:00:01Z",
    "lines": [{"line_number": 1, "procedure_code": "99213", "charge_amount": "150.00", "allowed_amount": "117.00",
               "deductible": "0.00", "copay": "0.00", "coinsurance": "0.00", "paid_amount": "117.00",
               "patient_responsibility": "0.00", "adjustments": [{"group": "CO", "carc": "45", "amount": "33.00"}]}],
    "totals": {"charge": "150.00", "allowed": "117.00", "paid": "117.00", "patient_responsibility": "0.00"},
    "reason_codes": ["CO-45"],
}


def test_received_then_processed():
    view = project(None, "claim.received", RECEIVED, 1)
    assert view["status"] == "received" and view["lines"][0]["allowed_amount"] is None
    view = project(view, "claim.processed", PROCESSED, 2)
    body = public(view)
    assert body["status"] == "processed"
    assert body["lines"][0]["paid_amount"] == "117.00"
    assert [t["status"] for t in body["timeline"]] == ["received", "processed"]
    assert body["timeline"][1]["reason_codes"] == ["CO-45"]
    assert "organization_id" not in body and "fingerprint" not in body


def test_an_event_already_reflected_changes_nothing():
    view = project(project(None, "claim.received", RECEIVED, 1), "claim.processed", PROCESSED, 2)
    assert project(view, "claim.processed", PROCESSED, 2) is None
    assert project(view, "claim.received", RECEIVED, 1) is None


def test_folding_twice_gives_the_same_document():
    def fold():
        view = None
        for event_type, data, version in (("claim.received", RECEIVED, 1), ("claim.processed", PROCESSED, 2)):
            view = project(view, event_type, data, version) or view
        return view

    assert fold() == fold()


def test_a_decision_before_the_claim_is_refused():
    with pytest.raises(ValueError):
        project(None, "claim.processed", PROCESSED, 2)


# ------------------------------------------------------------ info requests


INFO_REQUESTED = {
    "claim_id": "c-1", "info_request_id": "ir-1", "requested_at": "2026-11-01T10:00:01Z", "due_by": "2026-12-16",
    "carc": "16", "rarc": "N350", "message": "Describe the unlisted service.", "requested_by": "adjudication",
    "adjudication_id": "a-0", "line_numbers": [1],
}
ANSWERED = {"claim_id": "c-1", "info_request_id": "ir-1", "answered_at": "2026-11-05T09:00:00Z",
            "attachment_ids": ["att-1"]}
EXPLAINED = {
    **PROCESSED, "adjudication_id": "a-1",
    "lines": [{**PROCESSED["lines"][0], "explanation": ["Fee schedule amount 117.00 (in network)."],
               "authorization_id": "auth-1"}],
}


def _fold(*events):
    view = None
    for version, (event_type, data) in enumerate(events, start=1):
        view = project(view, event_type, data, version) or view
    return view


def test_pend_answer_processed():
    pended = _fold(("claim.received", RECEIVED), ("claim.info_requested", INFO_REQUESTED))
    body = public(pended, now=datetime(2026, 11, 2, tzinfo=UTC))
    assert body["status"] == "info_requested"
    assert body["info_requests"] == [{
        "info_request_id": "ir-1", "requested_at": "2026-11-01T10:00:01Z", "due_by": "2026-12-16", "carc": "16",
        "rarc": "N350", "message": "Describe the unlisted service.", "requested_by": "adjudication",
        "line_numbers": [1], "status": "open", "due_at": "2026-12-17T00:00:00Z",
    }]
    assert body["timeline"][-1] == {"status": "info_requested", "at": "2026-11-01T10:00:01Z",
                                    "reason_codes": ["CO-16", "N350"], "info_request_id": "ir-1"}
    assert body["lines"][0]["allowed_amount"] is None  # a pend prices nothing

    view = _fold(("claim.received", RECEIVED), ("claim.info_requested", INFO_REQUESTED),
                 ("claim.info_request_answered", ANSWERED), ("claim.processed", EXPLAINED))
    body = public(view, now=datetime(2027, 1, 1, tzinfo=UTC))  # answered: never expired
    assert body["status"] == "processed"
    (request,) = body["info_requests"]
    assert (request["status"], request["answered_at"], request["attachment_ids"]) == (
        "answered", "2026-11-05T09:00:00Z", ["att-1"])
    assert "message_id" not in request
    assert [t["status"] for t in body["timeline"]] == ["received", "info_requested", "received", "processed"]
    assert body["timeline"][2] == {"status": "received", "at": "2026-11-05T09:00:00Z", "info_request_id": "ir-1"}
    assert body["lines"][0]["explanation"] == ["Fee schedule amount 117.00 (in network)."]
    assert body["lines"][0]["authorization_id"] == "auth-1"
    assert ClaimView.model_validate(body).info_requests[0].status == "answered"


def test_an_open_request_past_its_due_date_shows_expired_but_is_stored_open():
    view = _fold(("claim.received", RECEIVED), ("claim.info_requested", INFO_REQUESTED))
    assert public(view, now=datetime(2026, 12, 16, tzinfo=UTC))["info_requests"][0]["status"] == "open"
    assert public(view, now=datetime(2026, 12, 17, tzinfo=UTC))["info_requests"][0]["status"] == "expired"
    assert view["info_requests"][0]["status"] == "open"


def test_lines_without_explanation_or_authorization():
    body = public(_fold(("claim.received", RECEIVED), ("claim.processed", PROCESSED)))
    assert body["lines"][0]["explanation"] == [] and "authorization_id" not in body["lines"][0]
    received = public(_fold(("claim.received", RECEIVED)))
    assert received["lines"][0]["explanation"] == []
    ClaimView.model_validate(body)
    ClaimView.model_validate(received)


def test_the_aggregates_own_events_fold_into_the_view_and_refold_the_same():
    """Events as the Claim aggregate writes them (not hand-written dicts), folded twice."""
    claim = Claim.from_events(Claim.receive("C-1", submission(), organization_id="ORG-1", received_at=RECEIVED_AT))
    events = []

    def commit(new):
        for event in new:
            claim.apply(event)
            events.append(event)

    lines = [
        {"line_number": n, "procedure_code": code, "charge_amount": charge, "allowed_amount": charge,
         "deductible": "0.00", "copay": "0.00", "coinsurance": "0.00", "paid_amount": charge,
         "patient_responsibility": "0.00", "explanation": [f"Line {n} paid as billed."]}
        for n, code, charge in ((1, "99213", "150.00"), (2, "83036", "25.00"))
    ]
    totals = {"charge": "175.00", "allowed": "175.00", "paid": "175.00", "patient_responsibility": "0.00"}
    commit(claim.apply_decision({
        "adjudication_id": "ADJ-1", "claim_id": "C-1", "claim_version": 1, "outcome": "info_requested",
        "adjudicated_at": RECEIVED_AT.isoformat(), "lines": lines, "totals": totals,
        "info_request": {"rarc": "M127", "line_numbers": [1], "message": "Send the medical record."},
    }, info_request_due_days=30))
    commit(claim.answer_info_request(claim.open_info_request.info_request_id, RECEIVED_AT, attachment_ids=["A"]))
    commit(claim.apply_decision({
        "adjudication_id": "ADJ-2", "claim_id": "C-1", "claim_version": 3, "outcome": "processed",
        "adjudicated_at": RECEIVED_AT.isoformat(), "lines": lines, "totals": totals,
    }))

    def fold():
        received = Claim.receive("C-1", submission(), organization_id="ORG-1", received_at=RECEIVED_AT)[0]
        view = project(None, received.type, dict(received.data), 1)
        for event in events:
            view = project(view, event.type, dict(event.data), event.version) or view
        return view

    view = fold()
    assert view == fold()
    body = public(view, now=RECEIVED_AT)
    assert body["status"] == "processed" and [t["status"] for t in body["timeline"]] == [
        "received", "info_requested", "received", "processed"]
    assert body["timeline"][1]["reason_codes"] == ["CO-16", "M127"]
    assert body["info_requests"][0]["status"] == "answered"
    assert body["info_requests"][0]["due_by"] == (RECEIVED_AT.date() + timedelta(days=30)).isoformat()
    assert body["lines"][1]["explanation"] == ["Line 2 paid as billed."]
    ClaimView.model_validate(body)
