"""The ledger survives its document form: what is stored is what is loaded, in shapes FerretDB v1 takes."""

from services.adjudication.domain.engine import Ledger, apply_decision
from services.adjudication.ledgers import StoredLedger, from_doc, to_doc
from tests.unit.adjudication.engine_support import decide_claim, line, member, received


def _nested_arrays(value) -> bool:
    if isinstance(value, list):
        return any(isinstance(item, list) or _nested_arrays(item) for item in value)
    if isinstance(value, dict):
        return any(_nested_arrays(item) for item in value.values())
    return False


def test_round_trip_without_nested_arrays():
    copy = member()
    ledger = Ledger.empty(copy.policy_id).with_opening_balance(2026, copy.member_id, "10.00", "20.00", "30.00", "40.00")
    ledger = ledger.with_authorization_used("PA-1", 2)
    claim = received(line(1, "80053", "90.00"), line(2, "99213", "150.00"))
    ledger = apply_decision(ledger, decide_claim(claim, copy, ledger=ledger), claim)
    stored = StoredLedger(ledger, 3, {"adj-1": 3})
    doc = to_doc(stored)
    assert not _nested_arrays(doc)
    assert from_doc(doc) == stored
