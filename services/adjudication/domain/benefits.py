"""Benefits: deductible, copay, coinsurance, then the out-of-pocket cap (docs/adjudication-rules.md §8).

Pure arithmetic over one line's allowed amount and the accumulators as the
previous lines left them; returns the member's share and the explanation.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from refdata.plans import Plan

from .ledger import Balance
from .pricing import percent_of

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Share:
    deductible: Decimal
    copay: Decimal
    coinsurance: Decimal
    explanation: tuple[str, ...]

    @property
    def total(self) -> Decimal:
        return self.deductible + self.copay + self.coinsurance

    @property
    def balance(self) -> Balance:
        """What the line adds to the accumulators: all cost sharing counts towards the out-of-pocket maximum."""
        return Balance(self.deductible, self.total)


def member_share(
    plan: Plan, category: str, allowed: Decimal, *, member: Balance, family: Balance | None,
    coinsurance_percent: int | None = None,
) -> Share:
    """The member's share of one line. family is None on an individual policy.

    coinsurance_percent overrides the plan's (out-of-network lines on a plan that covers them).
    """
    sharing = plan.cost_sharing[category]
    notes: list[str] = []
    remaining_deductible = _remaining(plan.deductible.individual, member.deductible,
                                      plan.deductible.family, None if family is None else family.deductible)
    deductible = min(allowed, remaining_deductible) if sharing.deductible_applies else ZERO
    if sharing.deductible_applies:
        if deductible:
            notes.append(f"deductible applied: {deductible} ({remaining_deductible - deductible} remaining)")
        elif allowed:
            notes.append("deductible already met")
    rest = allowed - deductible
    copay = min(sharing.copay, rest) if sharing.copay is not None else ZERO
    if sharing.copay is not None and rest:
        notes.append(f"{category.replace('_', ' ')} copay: {copay}")
    percent = plan.coinsurance_percent if coinsurance_percent is None else coinsurance_percent
    coinsurance = percent_of(rest, Decimal(percent)) if sharing.copay is None else ZERO
    if sharing.copay is None and rest:
        notes.append(f"coinsurance {percent}% of {rest} = {coinsurance}")
    remaining_oop = _remaining(plan.out_of_pocket_max.individual, member.out_of_pocket,
                               plan.out_of_pocket_max.family, None if family is None else family.out_of_pocket)
    excess = deductible + copay + coinsurance - remaining_oop
    if excess > 0:
        # The cap takes off coinsurance first, then copay, then deductible.
        for_coinsurance = min(excess, coinsurance)
        coinsurance -= for_coinsurance
        excess -= for_coinsurance
        for_copay = min(excess, copay)
        copay -= for_copay
        excess -= for_copay
        deductible -= min(excess, deductible)
        notes.append(f"out-of-pocket maximum reached: member share capped at {remaining_oop}")
    if not (deductible or copay or coinsurance) and allowed and not notes:
        notes.append("no member cost sharing for this service")
    return Share(deductible, copay, coinsurance, tuple(notes))


def _remaining(individual: Decimal, individual_met: Decimal, family: Decimal, family_met: Decimal | None) -> Decimal:
    remaining = max(individual - individual_met, ZERO)
    if family_met is not None:
        remaining = min(remaining, max(family - family_met, ZERO))
    return remaining
