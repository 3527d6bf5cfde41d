"""A policy's benefit ledger: accumulators, authorization units and the effect of every decided claim.

One ledger per policy (a family's, or an individual member's own), because the
family deductible and out-of-pocket maximum are shared by its members. The ledger
records each claim's effect (its deductible and out-of-pocket amounts per benefit
year, the authorization units it used, its paid lines for duplicate detection) and
the decisions applied for it, so that:

- applying a decision already applied changes nothing (replays, redeliveries);
- a new decision for the same claim (after an info request) or a replacement or
  void first gives the earlier effect back, then adds its own: nothing counts twice;
- the accumulators are always the opening balance plus the sum of the effects.

Pure: the adapter (services/adjudication/ledgers.py) stores it as one document, and
applying one decision is one atomic write of that document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from contracts.denials import DENIAL_CARCS, is_denied  # noqa: F401 - DENIAL_CARCS re-exported
from contracts.events.adjudication import AdjudicationDecision

ZERO = Decimal("0.00")
# The one definition of a denial (contracts/denials.py): analytics counts the same lines.


@dataclass(frozen=True)
class Balance:
    deductible: Decimal = ZERO
    out_of_pocket: Decimal = ZERO

    def __add__(self, other: Balance) -> Balance:
        return Balance(self.deductible + other.deductible, self.out_of_pocket + other.out_of_pocket)

    def __sub__(self, other: Balance) -> Balance:
        return Balance(self.deductible - other.deductible, self.out_of_pocket - other.out_of_pocket)

    def __bool__(self) -> bool:
        return bool(self.deductible or self.out_of_pocket)


@dataclass(frozen=True)
class ClaimEffect:
    member_id: str
    adjudication_ids: tuple[str, ...]
    """Every decision applied for the claim, oldest first (the last one is in effect)."""
    balances: Mapping[int, Balance] = field(default_factory=dict)
    """What the decision in effect added to the member's (and family's) accumulators, per benefit year."""
    authorization_units: Mapping[str, int] = field(default_factory=dict)
    line_keys: tuple[str, ...] = ()
    """Duplicate-detection keys of the claim's lines that were not denied."""
    reversed_by: str | None = None
    """The replacement or void claim that gave this claim's effect back."""

    @property
    def in_effect(self) -> bool:
        return self.reversed_by is None


@dataclass(frozen=True)
class Change:
    """One member-year's accumulator change, or one authorization's units, of an applied decision."""

    member_id: str
    year: int
    balance: Balance


@dataclass(frozen=True)
class Ledger:
    policy_id: str
    opening: Mapping[tuple[int, str], Balance] = field(default_factory=dict)
    """Balances carried in from outside the platform (a migration, the golden cases)."""
    opening_family: Mapping[int, Balance] = field(default_factory=dict)
    opening_authorization_used: Mapping[str, int] = field(default_factory=dict)
    claims: Mapping[str, ClaimEffect] = field(default_factory=dict)

    # ------------------------------------------------------------ construction

    @classmethod
    def empty(cls, policy_id: str) -> Ledger:
        return cls(policy_id)

    def with_opening_balance(
        self, year: int, member_id: str, deductible_met: Decimal | str, out_of_pocket_met: Decimal | str,
        family_deductible_met: Decimal | str | None = None, family_out_of_pocket_met: Decimal | str | None = None,
    ) -> Ledger:
        opening = dict(self.opening)
        opening[(year, member_id)] = Balance(Decimal(deductible_met), Decimal(out_of_pocket_met))
        family = dict(self.opening_family)
        if family_deductible_met is not None or family_out_of_pocket_met is not None:
            family[year] = Balance(Decimal(family_deductible_met or 0), Decimal(family_out_of_pocket_met or 0))
        return replace(self, opening=MappingProxyType(opening), opening_family=MappingProxyType(family))

    def with_authorization_used(self, authorization_id: str, units: int) -> Ledger:
        used = dict(self.opening_authorization_used)
        used[authorization_id] = used.get(authorization_id, 0) + units
        return replace(self, opening_authorization_used=MappingProxyType(used))

    # ------------------------------------------------------------------ reads

    def member_balance(self, year: int, member_id: str) -> Balance:
        total = self.opening.get((year, member_id), Balance())
        for effect in self._in_effect():
            if effect.member_id == member_id:
                total = total + effect.balances.get(year, Balance())
        return total

    def family_balance(self, year: int) -> Balance:
        """The sum over the policy's members (what a family deductible is measured against)."""
        if year in self.opening_family:
            total = self.opening_family[year]
        else:
            total = sum((b for (y, _), b in self.opening.items() if y == year), Balance())
        for effect in self._in_effect():
            total = total + effect.balances.get(year, Balance())
        return total

    def accumulators(self, year: int, member_id: str) -> tuple[Decimal, Decimal]:
        balance = self.member_balance(year, member_id)
        return balance.deductible, balance.out_of_pocket

    def family_accumulators(self, year: int) -> tuple[Decimal, Decimal]:
        balance = self.family_balance(year)
        return balance.deductible, balance.out_of_pocket

    def authorization_used(self) -> dict[str, int]:
        used = dict(self.opening_authorization_used)
        for effect in self._in_effect():
            for authorization_id, units in effect.authorization_units.items():
                used[authorization_id] = used.get(authorization_id, 0) + units
        return used

    def line_keys(self, member_id: str) -> frozenset[str]:
        return frozenset(
            key for effect in self._in_effect() if effect.member_id == member_id for key in effect.line_keys
        )

    def has_applied(self, claim_id: str, adjudication_id: str) -> bool:
        effect = self.claims.get(claim_id)
        return effect is not None and adjudication_id in effect.adjudication_ids

    def without_claims(self, claim_ids: Iterable[str | None]) -> Ledger:
        """The ledger as if these claims' effects were given back (what a replacement decides on)."""
        claims = dict(self.claims)
        for claim_id in claim_ids:
            if claim_id in claims:
                claims[claim_id] = replace(claims[claim_id], balances={}, authorization_units={}, line_keys=())
        return replace(self, claims=MappingProxyType(claims))

    def _in_effect(self) -> Iterable[ClaimEffect]:
        return (effect for effect in self.claims.values() if effect.in_effect)


# --------------------------------------------------------------------- changes


def effect_of(decision: AdjudicationDecision, claim: Mapping[str, Any], history: tuple[str, ...]) -> ClaimEffect:
    """What a decision adds to the ledger; a pend adds nothing but its id."""
    member_id = claim["member_id"]
    ids = (*history, decision.adjudication_id)
    if decision.outcome == "info_requested":
        return ClaimEffect(member_id=member_id, adjudication_ids=ids)
    received = {line["line_number"]: line for line in claim["lines"]}
    balances: dict[int, Balance] = {}
    units: dict[str, int] = {}
    keys: list[str] = []
    for line in decision.lines:
        source = received[line.line_number]
        year = _day(source["date_of_service"]).year
        share = line.deductible + line.copay + line.coinsurance
        if share or line.deductible:
            balances[year] = balances.get(year, Balance()) + Balance(line.deductible, share)
        if line.authorization_id:
            units[line.authorization_id] = units.get(line.authorization_id, 0) + int(source["units"])
        if not _denied(line):
            keys.append(line_key(member_id, claim, source))
    return ClaimEffect(
        member_id=member_id, adjudication_ids=ids, balances=MappingProxyType(balances),
        authorization_units=MappingProxyType(units), line_keys=tuple(keys),
    )


def apply_decision(ledger: Ledger, decision: AdjudicationDecision, claim: Mapping[str, Any]) -> Ledger:
    """The ledger after the decision; the same ledger when it was applied before.

    A replacement's original is given back in the same step (its effect zeroed and
    marked reversed), as is an earlier decision of the same claim.
    """
    claim_id = claim["claim_id"]
    if ledger.has_applied(claim_id, decision.adjudication_id):
        return ledger
    claims = dict(ledger.claims)
    original = claim.get("original_claim_id")
    if claim.get("frequency_code") == "7" and original:
        claims = _reversed(claims, original, by=claim_id)
    previous = claims.get(claim_id)
    history = previous.adjudication_ids if previous else ()
    claims[claim_id] = effect_of(decision, claim, history)
    return replace(ledger, claims=MappingProxyType(claims))


def apply_void(ledger: Ledger, void_claim: Mapping[str, Any], adjudication_id: str) -> Ledger:
    """A void (frequency 8) gives its original's effect back; applying it twice changes nothing."""
    claim_id = void_claim["claim_id"]
    if ledger.has_applied(claim_id, adjudication_id):
        return ledger
    claims = _reversed(dict(ledger.claims), void_claim.get("original_claim_id"), by=claim_id)
    claims[claim_id] = ClaimEffect(member_id=void_claim["member_id"], adjudication_ids=(adjudication_id,))
    return replace(ledger, claims=MappingProxyType(claims))


def apply_expiry(ledger: Ledger, claim: Mapping[str, Any], adjudication_id: str) -> Ledger:
    """An info request that expired unanswered: the claims service denies the claim (CO-16), so
    the decision in effect gives back its accumulators, units and duplicate keys. The claim keeps
    its history (a later version is decided on top of it); applying it twice changes nothing."""
    claim_id = claim["claim_id"]
    if ledger.has_applied(claim_id, adjudication_id):
        return ledger
    previous = ledger.claims.get(claim_id)
    history = previous.adjudication_ids if previous else ()
    claims = dict(ledger.claims)
    claims[claim_id] = ClaimEffect(member_id=claim["member_id"], adjudication_ids=(*history, adjudication_id),
                                   reversed_by=previous.reversed_by if previous else None)
    return replace(ledger, claims=MappingProxyType(claims))


def changes_between(before: Ledger, after: Ledger) -> list[Change]:
    """Each member-year whose accumulators moved, with the signed change (for accumulators.applied)."""
    keys: set[tuple[int, str]] = set()
    for ledger in (before, after):
        for effect in ledger.claims.values():
            for year in effect.balances:
                keys.add((year, effect.member_id))
    changes = []
    for year, member_id in sorted(keys):
        delta = after.member_balance(year, member_id) - before.member_balance(year, member_id)
        if delta:
            changes.append(Change(member_id, year, delta))
    return changes


def authorization_changes(before: Ledger, after: Ledger) -> dict[str, int]:
    """Authorization id -> units used (negative: given back) between two ledgers."""
    old, new = before.authorization_used(), after.authorization_used()
    return {a: new.get(a, 0) - old.get(a, 0) for a in sorted(set(old) | set(new)) if new.get(a, 0) != old.get(a, 0)}


def line_key(member_id: str, claim: Mapping[str, Any], line: Mapping[str, Any]) -> str:
    """Same member, billing provider, code, modifiers, date of service, units and charge: a duplicate.

    A digest, not the fields: the ledger keeps it for years and it need not spell
    out a patient's services.
    """
    modifiers = ",".join(sorted(line.get("modifiers") or ()))
    charge = Decimal(str(line["charge_amount"])).quantize(Decimal("0.01"))
    text = "|".join((
        member_id, claim["billing_provider"]["npi"], line["procedure_code"], modifiers,
        str(line["date_of_service"]), str(line["units"]), str(charge),
    ))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _reversed(claims: dict[str, ClaimEffect], claim_id: str | None, *, by: str) -> dict[str, ClaimEffect]:
    effect = claims.get(claim_id) if claim_id else None
    if effect is not None and effect.in_effect:
        claims[claim_id] = replace(effect, reversed_by=by)
    return claims


def _denied(line: Any) -> bool:
    return is_denied(line)


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
