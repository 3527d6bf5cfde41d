"""A policy's ledger survives its document form, and that form is one FerretDB v1 stores.

FerretDB v1 rejects an array directly inside an array ("nested arrays are not
supported"): a ledger stored as [[year, deductible, oop]] tuples could not be written
once a claim counted towards a deductible, and every in-network decision was parked.
"""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType

from services.adjudication.domain.ledger import Balance, ClaimEffect, Ledger
from services.adjudication.ledgers import StoredLedger, from_doc, to_doc


def _ledger() -> Ledger:
    ledger = (Ledger.empty("FAM-1")
              .with_opening_balance(2026, "M1", "100.00", "150.00", family_deductible_met="300.00",
                                    family_out_of_pocket_met="400.00")
              .with_opening_balance(2025, "M2", "10.00", "20.00")
              .with_authorization_used("PA-1", 2))
    claims = {
        "c1": ClaimEffect("M1", ("a1",), MappingProxyType({2026: Balance(Decimal("23.83"), Decimal("23.83"))}),
                          MappingProxyType({"PA-1": 1}), ("k1", "k2")),
        "c2": ClaimEffect("M2", ("a2", "a3"), MappingProxyType({2025: Balance(Decimal("-5.00"), Decimal("0.00")),
                                                                  2026: Balance(Decimal("1.00"), Decimal("2.50"))}),
                          reversed_by="c3"),
        "c3": ClaimEffect("M2", ("a4",)),
    }
    return Ledger(ledger.policy_id, ledger.opening, ledger.opening_family, ledger.opening_authorization_used,
                  MappingProxyType(claims))


def _nested_arrays(value, inside_array: bool = False) -> list:
    if isinstance(value, list):
        found = [value] if inside_array else []
        return found + [n for item in value for n in _nested_arrays(item, True)]
    if isinstance(value, dict):
        return [n for item in value.values() for n in _nested_arrays(item, False)]
    return []


def test_a_ledger_document_reads_back_as_the_same_ledger():
    stored = StoredLedger(_ledger(), 7, {"a1": 3, "a2": 5, "a3": 6, "a4": 7})
    again = from_doc(to_doc(stored))
    assert again == stored
    assert again.ledger.accumulators(2026, "M1") == (Decimal("123.83"), Decimal("173.83"))
    assert again.ledger.family_accumulators(2026) == (Decimal("323.83"), Decimal("423.83"))
    assert again.ledger.authorization_used() == {"PA-1": 3}


def test_a_ledger_document_holds_no_array_directly_inside_an_array():
    assert _nested_arrays(to_doc(StoredLedger(_ledger(), 1, {"a1": 1}))) == []
