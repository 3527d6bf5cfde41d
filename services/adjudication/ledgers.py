"""Where policies' ledgers live: one document per policy, written whole by compare-and-set.

Applying a decision to a ledger is one atomic document write (BLUEPRINT §4: no
multi-document transactions), guarded by the ledger's revision: two writers of
the same family's ledger (two members' claims on different partitions, or two
replicas during a rebalance) cannot both win; the loser reloads and decides again.

`positions` maps each applied adjudication id to the revision that applied it, so
the decision document written for that revision can be found again (decisions are
stored under "<adjudication id>:<revision>" before the ledger moves; see
services/adjudication/adjudicator.py).

The last ledger this process wrote or read for a policy is kept in memory: a
member's next claim (same partition, same process) decides without a read. A
stale copy only costs a lost compare-and-set and a reload.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from infra.projection import compare_and_set
from services.adjudication.domain.ledger import Balance, ClaimEffect, Ledger

RECENT_LEDGERS = 4096


@dataclass(frozen=True)
class StoredLedger:
    ledger: Ledger
    revision: int
    """0: no document yet."""
    positions: dict[str, int] = field(default_factory=dict)


class LedgerStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.docs = db["ledgers"]
        self._recent: OrderedDict[str, StoredLedger] = OrderedDict()

    async def load(self, policy_id: str, *, fresh: bool = False) -> StoredLedger:
        if not fresh and policy_id in self._recent:
            return self._recent[policy_id]
        doc = await self.docs.find_one({"_id": policy_id})
        stored = StoredLedger(Ledger.empty(policy_id), 0) if doc is None else from_doc(doc)
        self._remember(policy_id, stored)
        return stored

    async def save(self, current: StoredLedger, ledger: Ledger, positions: dict[str, int]) -> StoredLedger | None:
        """The ledger at revision + 1, or None when another writer moved it first (reload, decide again)."""
        new = StoredLedger(ledger, current.revision + 1, positions)
        previous = None if current.revision == 0 else {"_id": ledger.policy_id, "revision": current.revision}
        if not await compare_and_set(self.docs, previous, to_doc(new), field="revision"):
            self._recent.pop(ledger.policy_id, None)
            return None
        self._remember(ledger.policy_id, new)
        return new

    def forget(self, policy_id: str) -> None:
        self._recent.pop(policy_id, None)

    def _remember(self, policy_id: str, stored: StoredLedger) -> None:
        self._recent[policy_id] = stored
        self._recent.move_to_end(policy_id)
        while len(self._recent) > RECENT_LEDGERS:
            self._recent.popitem(last=False)


def _money(value: Decimal) -> str:
    return str(value)


def to_doc(stored: StoredLedger) -> dict[str, Any]:
    ledger = stored.ledger
    # Lists of records rather than maps keyed by ids (ids are data, and a field name may
    # not hold every character an id can), and never arrays of arrays (FerretDB v1
    # refuses nested arrays).
    return {
        "_id": ledger.policy_id,
        "revision": stored.revision,
        "positions": [{"adjudication_id": a, "revision": r} for a, r in stored.positions.items()],
        "opening": [{"year": year, "member_id": member, **_balance(b)} for (year, member), b in ledger.opening.items()],
        "opening_family": [{"year": year, **_balance(b)} for year, b in ledger.opening_family.items()],
        "opening_authorization_used": [{"authorization_id": a, "units": units}
                                       for a, units in ledger.opening_authorization_used.items()],
        "claims": [
            {
                "claim_id": claim_id,
                "member_id": effect.member_id,
                "adjudication_ids": list(effect.adjudication_ids),
                "balances": [{"year": year, **_balance(b)} for year, b in effect.balances.items()],
                "authorization_units": [{"authorization_id": a, "units": units}
                                        for a, units in effect.authorization_units.items()],
                "line_keys": list(effect.line_keys),
                "reversed_by": effect.reversed_by,
            }
            for claim_id, effect in ledger.claims.items()
        ],
    }


def _balance(balance: Balance) -> dict[str, str]:
    return {"deductible": _money(balance.deductible), "out_of_pocket": _money(balance.out_of_pocket)}


def _from_balance(raw: dict[str, Any]) -> Balance:
    return Balance(Decimal(raw["deductible"]), Decimal(raw["out_of_pocket"]))


def from_doc(doc: dict[str, Any]) -> StoredLedger:
    claims = {
        raw["claim_id"]: ClaimEffect(
            member_id=raw["member_id"],
            adjudication_ids=tuple(raw["adjudication_ids"]),
            balances=MappingProxyType({int(b["year"]): _from_balance(b) for b in raw["balances"]}),
            authorization_units=MappingProxyType({u["authorization_id"]: int(u["units"])
                                                  for u in raw["authorization_units"]}),
            line_keys=tuple(raw["line_keys"]),
            reversed_by=raw.get("reversed_by"),
        )
        for raw in doc.get("claims", [])
    }
    ledger = Ledger(
        policy_id=doc["_id"],
        opening=MappingProxyType({(int(b["year"]), b["member_id"]): _from_balance(b) for b in doc.get("opening", [])}),
        opening_family=MappingProxyType({int(b["year"]): _from_balance(b) for b in doc.get("opening_family", [])}),
        opening_authorization_used=MappingProxyType({u["authorization_id"]: int(u["units"])
                                                     for u in doc.get("opening_authorization_used", [])}),
        claims=MappingProxyType(claims),
    )
    positions = {p["adjudication_id"]: int(p["revision"]) for p in doc.get("positions", [])}
    return StoredLedger(ledger, doc["revision"], positions)
