"""The Claim aggregate: state from events, commands that return events."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from claim_samples import RECEIVED_AT, submission
from services.claims.domain import (
    CLAIM_DENIED,
    CLAIM_PAID,
    CLAIM_PROCESSED,
    CLAIM_RECEIVED,
    CLAIM_REPLACED,
    CLAIM_VOIDED,
    Claim,
    ClaimError,
    ClaimEvent,
    ClaimStatus,
    DecisionMismatch,
    InvalidTransition,
    claim_fingerprint,
)

CLAIM_ID = "C-0001"
ADJUDICATED_AT = RECEIVED_AT + timedelta(minutes=2)


def received_claim(**overrides):
    return Claim.from_events(Claim.receive(CLAIM_ID, submission(**overrides), organization_id="ORG-1",
                                           received_at=RECEIVED_AT))


def decision(adjudication_id="ADJ-1", *, outcome="processed", lines=None, claim_id=CLAIM_ID):
    lines = lines if lines is not None else [
        priced(1, "99213", "150.00", allowed="117.00"),
        priced(2, "83036", "25.00", allowed="12.62"),
    ]
    return {
        "adjudication_id": adjudication_id,
        "claim_id": claim_id,
        "claim_version": 1,
        "outcome": outcome,
        "adjudicated_at": ADJUDICATED_AT.isoformat(),
        "lines": lines,
        "totals": {
            "charge": str(sum(Decimal(line["charge_amount"]) for line in lines)),
            "allowed": str(sum(Decimal(line["allowed_amount"]) for line in lines)),
            "paid": str(sum(Decimal(line["paid_amount"]) for line in lines)),
            "patient_responsibility": "0.00",
        },
    }


def priced(number, code, charge, *, allowed):
    reduction = Decimal(charge) - Decimal(allowed)
    return {
        "line_number": number, "procedure_code": code, "charge_amount": charge, "allowed_amount": allowed,
        "deductible": "0.00", "copay": "0.00", "coinsurance": "0.00", "paid_amount": allowed,
        "patient_responsibility": "0.00",
        "adjustments": [{"group": "CO", "carc": "45", "amount": str(reduction)}] if reduction else [],
    }


def denied_line(number, code, charge):
    return {
        "line_number": number, "procedure_code": code, "charge_amount": charge, "allowed_amount": "0.00",
        "deductible": "0.00", "copay": "0.00", "coinsurance": "0.00", "paid_amount": "0.00",
        "patient_responsibility": "0.00", "adjustments": [{"group": "CO", "carc": "204", "amount": charge}],
    }


def commit(claim, events):
    for event in events:
        claim.apply(event)
    return claim


# ------------------------------------------------------------------ receive


def test_receive_records_everything_submitted():
    claim_submission = submission(diagnosis_codes=["e119", "I10"])
    (event,) = Claim.receive(CLAIM_ID, claim_submission, organization_id="ORG-1", received_at=RECEIVED_AT)
    assert (event.type, event.claim_id, event.version) == (CLAIM_RECEIVED, CLAIM_ID, 1)
    data = event.data
    assert data["claim_id"] == CLAIM_ID
    assert data["organization_id"] == "ORG-1"
    assert data["received_at"] == "2026-03-10T14:30:00Z"
    assert data["total_charge"] == "175.00"
    assert data["fingerprint"] == claim_fingerprint(claim_submission)
    assert data["diagnosis_codes"] == ["E11.9", "I10"]  # normalised to the dotted form
    assert data["billing_provider"] == {"npi": "1234567893", "tin": "123456789"}
    assert data["member_id"] == "M-0001" and data["patient_date_of_birth"] == "1980-05-01"
    assert "original_claim_id" not in data and "prior_authorization_id" not in data
    assert data["lines"][0] == {
        "line_number": 1, "procedure_code": "99213", "modifiers": ["25"], "units": 1,
        "charge_amount": "150.00", "date_of_service": "2026-03-01", "place_of_service": "11",
        "diagnosis_pointers": [1, 2],
    }
    assert data["lines"][1]["line_number"] == 2


def test_receive_converts_instants_to_utc():
    local = datetime(2026, 3, 10, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    (event,) = Claim.receive(CLAIM_ID, submission(), organization_id="ORG-1", received_at=local)
    assert event.data["received_at"] == "2026-03-10T14:30:00Z"


def test_receive_refuses_a_naive_time():
    with pytest.raises(ValueError):
        Claim.receive(CLAIM_ID, submission(), organization_id="ORG-1", received_at=datetime(2026, 3, 10))


def test_a_received_claim():
    claim = received_claim()
    assert claim.status is ClaimStatus.RECEIVED
    assert claim.version == 1
    assert claim.received.total_charge == Decimal("175.00")
    assert [(t.status, t.at) for t in claim.timeline] == [(ClaimStatus.RECEIVED, RECEIVED_AT)]


def test_events_must_come_in_order():
    events = Claim.receive(CLAIM_ID, submission(), organization_id="ORG-1", received_at=RECEIVED_AT)
    claim = Claim.from_events(events)
    with pytest.raises(ValueError):
        claim.apply(events[0])  # version 1 again
    with pytest.raises(ValueError):
        claim.apply(ClaimEvent(CLAIM_PROCESSED, "C-OTHER", 2, {}))
    with pytest.raises(ValueError):
        claim.apply(ClaimEvent("claim.teleported", CLAIM_ID, 2, {}))
    with pytest.raises(ValueError):
        Claim.from_events([])


# ---------------------------------------------------------------- decisions


def test_a_decision_processes_the_claim():
    claim = received_claim()
    (event,) = claim.apply_decision(decision())
    assert (event.type, event.version) == (CLAIM_PROCESSED, 2)
    assert event.data["adjudication_id"] == "ADJ-1"
    assert event.data["totals"] == {"charge": "175.00", "allowed": "129.62", "paid": "129.62",
                                    "patient_responsibility": "0.00"}
    assert event.data["reason_codes"] == ["CO-45"]
    assert event.data["lines"][0]["adjustments"] == [{"group": "CO", "carc": "45", "amount": "33.00"}]
    assert claim.status is ClaimStatus.RECEIVED and claim.version == 1  # commands do not mutate

    commit(claim, [event])
    assert claim.status is ClaimStatus.PROCESSED
    assert claim.version == 2
    assert claim.adjudication.totals.paid == Decimal("129.62")
    assert claim.timeline[-1].status is ClaimStatus.PROCESSED
    assert claim.timeline[-1].at == ADJUDICATED_AT
    assert claim.timeline[-1].reason_codes == ("CO-45",)


def test_a_decision_paying_nothing_denies_the_claim():
    claim = received_claim()
    lines = [denied_line(1, "99213", "150.00"), denied_line(2, "83036", "25.00")]
    (event,) = claim.apply_decision(decision(outcome="denied", lines=lines))
    assert event.type == CLAIM_DENIED
    commit(claim, [event])
    assert claim.status is ClaimStatus.DENIED
    assert claim.timeline[-1].reason_codes == ("CO-204",)
    assert all(line.paid_amount == 0 for line in claim.adjudication.lines)


def test_applying_the_same_decision_again_is_a_no_op():
    claim = received_claim()
    commit(claim, claim.apply_decision(decision("ADJ-1")))
    assert claim.apply_decision(decision("ADJ-1")) == []
    assert claim.version == 2


def test_a_replayed_decision_is_a_no_op_after_the_claim_moved_on():
    claim = received_claim()
    commit(claim, claim.apply_decision(decision("ADJ-1")))
    commit(claim, claim.record_payment(remittance_id="R-1", eft_trace_number="T-1",
                                       paid_at=ADJUDICATED_AT, amount="129.62"))
    assert claim.apply_decision(decision("ADJ-1")) == []
    assert claim.status is ClaimStatus.PAID


def test_a_rebuilt_claim_remembers_applied_decisions():
    events = Claim.receive(CLAIM_ID, submission(), organization_id="ORG-1", received_at=RECEIVED_AT)
    events += Claim.from_events(events).apply_decision(decision("ADJ-1"))
    rebuilt = Claim.from_events(events)
    assert rebuilt.version == 2
    assert rebuilt.apply_decision(decision("ADJ-1")) == []


def test_a_second_different_decision_is_refused():
    claim = received_claim()
    commit(claim, claim.apply_decision(decision("ADJ-1")))
    with pytest.raises(InvalidTransition):
        claim.apply_decision(decision("ADJ-2"))


@pytest.mark.parametrize("close", ["void", "replace"])
def test_a_closed_claim_cannot_take_a_decision(close):
    claim = received_claim()
    if close == "void":
        commit(claim, claim.void(voided_by_claim_id="C-9", voided_at=RECEIVED_AT))
    else:
        commit(claim, claim.replace(replaced_by_claim_id="C-9", replaced_at=RECEIVED_AT))
    with pytest.raises(InvalidTransition):
        claim.apply_decision(decision())


def test_a_decision_for_another_claim_is_refused():
    with pytest.raises(DecisionMismatch):
        received_claim().apply_decision(decision(claim_id="C-OTHER"))


def test_a_decision_that_prices_other_lines_is_refused():
    lines = [priced(1, "99213", "150.00", allowed="117.00")]
    with pytest.raises(DecisionMismatch):
        received_claim().apply_decision(decision(lines=lines))
    lines = [priced(1, "99213", "140.00", allowed="117.00"), priced(2, "83036", "25.00", allowed="12.62")]
    with pytest.raises(DecisionMismatch):
        received_claim().apply_decision(decision(lines=lines))


def test_a_denial_that_pays_is_refused():
    with pytest.raises(DecisionMismatch):
        received_claim().apply_decision(decision(outcome="denied"))


def test_a_malformed_decision_is_refused():
    bad = decision()
    del bad["totals"]
    with pytest.raises(ValueError):
        received_claim().apply_decision(bad)


# ------------------------------------------------------- payment and closing


def processed_claim():
    claim = received_claim()
    return commit(claim, claim.apply_decision(decision()))


def test_payment_of_a_processed_claim():
    claim = processed_claim()
    paid_at = datetime(2026, 3, 13, 9, 0, tzinfo=UTC)
    (event,) = claim.record_payment(remittance_id="R-1", eft_trace_number="1234567890",
                                    paid_at=paid_at, amount=Decimal("129.62"))
    assert (event.type, event.version) == (CLAIM_PAID, 3)
    assert event.data == {"claim_id": CLAIM_ID, "remittance_id": "R-1", "eft_trace_number": "1234567890",
                          "paid_at": "2026-03-13T09:00:00Z", "amount": "129.62"}
    commit(claim, [event])
    assert claim.status is ClaimStatus.PAID
    assert claim.payment.remittance_id == "R-1"
    assert claim.record_payment(remittance_id="R-1", eft_trace_number="1234567890",
                                paid_at=paid_at, amount="129.62") == []


def test_payment_must_match_what_was_processed():
    with pytest.raises(ClaimError):
        processed_claim().record_payment(remittance_id="R-1", eft_trace_number="T", paid_at=RECEIVED_AT,
                                         amount="100.00")


def test_only_a_processed_claim_is_paid():
    with pytest.raises(InvalidTransition):
        received_claim().record_payment(remittance_id="R-1", eft_trace_number="T", paid_at=RECEIVED_AT,
                                        amount="0.00")


def test_void_and_replace():
    claim = processed_claim()
    (event,) = claim.void(voided_by_claim_id="C-9", voided_at=RECEIVED_AT)
    assert (event.type, event.version, event.data["voided_by_claim_id"]) == (CLAIM_VOIDED, 3, "C-9")
    commit(claim, [event])
    assert claim.status is ClaimStatus.VOIDED
    assert claim.void(voided_by_claim_id="C-9", voided_at=RECEIVED_AT) == []  # redelivered
    with pytest.raises(InvalidTransition):
        claim.replace(replaced_by_claim_id="C-10", replaced_at=RECEIVED_AT)

    other = received_claim()
    (event,) = other.replace(replaced_by_claim_id="C-10", replaced_at=RECEIVED_AT)
    assert event.type == CLAIM_REPLACED
    commit(other, [event])
    assert other.status is ClaimStatus.REPLACED
    assert other.replace(replaced_by_claim_id="C-10", replaced_at=RECEIVED_AT) == []
    with pytest.raises(InvalidTransition):
        other.void(voided_by_claim_id="C-11", voided_at=RECEIVED_AT)


def test_full_history_rebuilds_the_same_state():
    claim = processed_claim()
    events = Claim.receive(CLAIM_ID, submission(), organization_id="ORG-1", received_at=RECEIVED_AT)
    events += Claim.from_events(events).apply_decision(decision())
    paid = claim.record_payment(remittance_id="R-1", eft_trace_number="T", paid_at=ADJUDICATED_AT,
                                amount="129.62")
    commit(claim, paid)
    rebuilt = Claim.from_events(events + paid)
    assert rebuilt.version == claim.version == 3
    assert rebuilt.status is claim.status is ClaimStatus.PAID
    assert rebuilt.timeline == claim.timeline
    assert [t.status for t in rebuilt.timeline] == ["received", "processed", "paid"]


# ------------------------------------------------- corrections reserve first


def _apply(claim, events):
    for event in events:
        claim.apply(event)
    return claim


def test_a_correction_reserves_the_original_and_the_status_holds():
    claim = received_claim()
    (event,) = claim.reserve_closure(by_claim_id="C-NEW", frequency_code="7", at=ADJUDICATED_AT)
    assert event.type == "claim.closure_reserved" and event.version == 2
    _apply(claim, [event])
    assert claim.status is ClaimStatus.RECEIVED  # still payable until closed
    assert claim.reserved_by_claim_id == "C-NEW"
    assert claim.is_closable_by("C-NEW") and not claim.is_closable_by("C-OTHER")


def test_the_same_correction_reserving_again_is_a_no_op_and_another_is_refused():
    claim = _apply(received_claim(), received_claim().reserve_closure(by_claim_id="C-NEW", frequency_code="8",
                                                                      at=ADJUDICATED_AT))
    assert claim.reserve_closure(by_claim_id="C-NEW", frequency_code="8", at=ADJUDICATED_AT) == []
    with pytest.raises(InvalidTransition):
        claim.reserve_closure(by_claim_id="C-OTHER", frequency_code="7", at=ADJUDICATED_AT)
    with pytest.raises(InvalidTransition):
        claim.void(voided_by_claim_id="C-OTHER", voided_at=ADJUDICATED_AT)


def test_the_reserving_correction_closes_the_claim_once_and_then_nothing_reserves_it():
    claim = received_claim()
    _apply(claim, claim.reserve_closure(by_claim_id="C-NEW", frequency_code="7", at=ADJUDICATED_AT))
    _apply(claim, claim.replace(replaced_by_claim_id="C-NEW", replaced_at=ADJUDICATED_AT))
    assert claim.status is ClaimStatus.REPLACED
    assert claim.replace(replaced_by_claim_id="C-NEW", replaced_at=ADJUDICATED_AT) == []
    assert claim.reserve_closure(by_claim_id="C-NEW", frequency_code="7", at=ADJUDICATED_AT) == []
    with pytest.raises(InvalidTransition):
        claim.reserve_closure(by_claim_id="C-OTHER", frequency_code="7", at=ADJUDICATED_AT)
    assert not claim.is_closable_by("C-OTHER")


def test_a_decision_still_applies_to_a_reserved_claim():
    claim = received_claim()
    _apply(claim, claim.reserve_closure(by_claim_id="C-NEW", frequency_code="7", at=ADJUDICATED_AT))
    (event,) = claim.apply_decision(decision())
    assert event.type == CLAIM_PROCESSED and event.version == 3
