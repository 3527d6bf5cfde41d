"""Thin payloads and the emails built from them: ids and status, never patient data."""

from datetime import UTC, datetime

import orjson
import pytest

from services.notifications.domain.emails import email_for, endpoint_disabled_email
from services.notifications.domain.event_types import EMAILED_EVENT_TYPES, WEBHOOK_EVENT_TYPES, unknown_event_types
from services.notifications.domain.payloads import webhook_body, webhook_data

PHI = {
    "member_id": "M123456", "patient_date_of_birth": "1971-04-05", "diagnosis_codes": ["E11.9"],
    "first_name": "Ada", "last_name": "Lovelace", "lines": [{"procedure_code": "72148", "date_of_service": "2026-11-01"}],
    "clinical_notes": "history of ...", "procedure_codes": ["72148"],
}
IDS = {
    "claim_id": "c-1", "adjudication_id": "a-1", "info_request_id": "ir-1", "due_by": "2027-01-15",
    "remittance_id": "r-1", "eft_trace_number": "1234567890", "amount": "80.00", "authorization_id": "pa-1",
    "approved_units": 3, "start_date": "2026-12-01", "end_date": "2026-12-31", "reason_code": "50",
    "voided_by_claim_id": "c-2", "replaced_by_claim_id": "c-3", "reason_codes": ["CO-197"],
}


def test_the_event_types_are_api_md_s():
    assert set(WEBHOOK_EVENT_TYPES) == {
        "claim.received", "claim.processed", "claim.paid", "claim.denied", "claim.info_requested",
        "authorization.approved", "authorization.denied", "authorization.info_requested",
        "claim.voided", "claim.replaced", "remittance.issued", "authorization.expired", "authorization.overdue",
    }
    assert EMAILED_EVENT_TYPES <= set(WEBHOOK_EVENT_TYPES)
    assert unknown_event_types(["claim.denied", "claim.exploded", "*"]) == ["claim.exploded", "*"]


@pytest.mark.parametrize("event_type", WEBHOOK_EVENT_TYPES)
def test_no_patient_data_ever_leaves(event_type):
    data = webhook_data(event_type, {**PHI, **IDS})
    text = orjson.dumps(data).decode()
    for value in ("M123456", "1971-04-05", "E11.9", "Ada", "Lovelace", "72148", "2026-11-01", "history"):
        assert value not in text
    assert set(data) <= set(IDS) | {"status", "payment_run_id"}


def test_shapes():
    assert webhook_data("claim.denied", {**PHI, **IDS}) == {
        "claim_id": "c-1", "adjudication_id": "a-1", "reason_codes": ["CO-197"], "status": "denied"}
    assert webhook_data("claim.received", {**PHI, "claim_id": "c-1"}) == {"claim_id": "c-1", "status": "received"}
    assert webhook_data("remittance.issued", {"remittance_id": "r-1",
                                              "payment": {"amount": "10.00", "eft_trace_number": "77"}}) == {
        "remittance_id": "r-1", "amount": "10.00", "eft_trace_number": "77"}
    assert webhook_data("claim.processed", {"claim_id": "c-1", "reason_codes": []}) == {
        "claim_id": "c-1", "status": "processed"}


def test_the_body_is_stable_bytes():
    at = datetime(2026, 12, 1, 10, 30, 5, 123000, tzinfo=UTC)
    body = webhook_body("claim.paid", at, {**IDS, **PHI})
    assert body == webhook_body("claim.paid", at, {**PHI, **IDS})
    assert orjson.loads(body) == {"type": "claim.paid", "timestamp": "2026-12-01T10:30:05.123000Z",
                                  "data": {"claim_id": "c-1", "remittance_id": "r-1", "status": "paid"}}


@pytest.mark.parametrize("event_type", sorted(EMAILED_EVENT_TYPES))
def test_emails_carry_a_reference_and_a_sign_in_link_only(event_type):
    email = email_for(event_type, webhook_data(event_type, {**PHI, **IDS}), "https://portal.example")
    text = email.subject + email.body
    assert email.reference in email.body and "https://portal.example/" in email.body
    for value in ("M123456", "1971-04-05", "E11.9", "Ada", "Lovelace", "72148", "history"):
        assert value not in text
    with pytest.raises(ValueError):
        email_for("claim.received", {"claim_id": "c-1"}, "https://portal.example")


def test_endpoint_disabled_email():
    email = endpoint_disabled_email("ep-1", "https://hooks.example/x", "gone", "http://127.0.0.1:8080")
    assert "ep-1" in email.body and "410 Gone" in email.body and email.subject.endswith("https://hooks.example/x")
