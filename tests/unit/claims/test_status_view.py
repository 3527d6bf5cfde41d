import pytest

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
