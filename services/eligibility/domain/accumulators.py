"""Eligibility's read copy of a member's deductible and out-of-pocket accumulators.

Adjudication owns the accumulators and publishes each change as a delta. The copy
sums the deltas without clamping and clamps only when read: sums commute, so a
reversal that arrives before the charge it reverses still converges on the right
total, and replaying any update is a no-op because applied adjudication ids are kept.

Accumulators are kept per member per benefit year, not per plan: within one issuer
a mid-year plan change carries what the member has already paid into the new plan.
The benefit year is the calendar year of the date of service (refdata.plans.benefit_year):
benefit designs renew every January 1, even for coverage that spans years. The
payload field keeps its published name, plan_year, with that meaning.

On a family policy the same deltas are also summed per family and year (the
update's family_id): a family's members share one family deductible and
out-of-pocket maximum. The family's totals dedupe by adjudication id like a
member's, and each of the two is its own document, so neither needs the other
to be written first: a redelivery completes whichever is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, computed_field

from contracts.events.adjudication import AccumulatorUpdate
from contracts.money import Money, SignedMoney
from refdata.plans import SortedStrings

ZERO = Decimal("0.00")


class _Totals(BaseModel):
    # extra="ignore": stored documents also hold the computed *_met fields.
    model_config = ConfigDict(frozen=True, extra="ignore")

    plan_year: int
    deductible_total: SignedMoney = ZERO
    out_of_pocket_total: SignedMoney = ZERO
    applied_adjudication_ids: SortedStrings = frozenset()

    @computed_field
    @property
    def deductible_met(self) -> Money:
        return max(self.deductible_total, ZERO)

    @computed_field
    @property
    def out_of_pocket_met(self) -> Money:
        return max(self.out_of_pocket_total, ZERO)

    def _plus(self, update: AccumulatorUpdate):
        if update.adjudication_id in self.applied_adjudication_ids:
            return self
        return self.model_copy(update={
            "deductible_total": self.deductible_total + update.deductible_applied,
            "out_of_pocket_total": self.out_of_pocket_total + update.out_of_pocket_applied,
            "applied_adjudication_ids": self.applied_adjudication_ids | {update.adjudication_id},
        })


class Accumulators(_Totals):
    member_id: str


class FamilyAccumulators(_Totals):
    """The sum of a family policy's members' accumulators for one benefit year."""

    family_id: str


def empty_accumulators(member_id: str, plan_year: int) -> Accumulators:
    return Accumulators(member_id=member_id, plan_year=plan_year)


def _update(payload: AccumulatorUpdate | Mapping[str, Any]) -> AccumulatorUpdate:
    return payload if isinstance(payload, AccumulatorUpdate) else AccumulatorUpdate.model_validate(payload)


def apply_accumulator_event(
    accumulators: Accumulators | None, payload: AccumulatorUpdate | Mapping[str, Any]
) -> Accumulators:
    update = _update(payload)
    current = accumulators or empty_accumulators(update.member_id, update.plan_year)
    if (current.member_id, current.plan_year) != (update.member_id, update.plan_year):
        raise ValueError("accumulator update is for another member or benefit year")
    return current._plus(update)


def apply_family_accumulator_event(
    accumulators: FamilyAccumulators | None, payload: AccumulatorUpdate | Mapping[str, Any]
) -> FamilyAccumulators:
    update = _update(payload)
    if update.family_id is None:
        raise ValueError("accumulator update is for an individual policy")
    current = accumulators or FamilyAccumulators(family_id=update.family_id, plan_year=update.plan_year)
    if (current.family_id, current.plan_year) != (update.family_id, update.plan_year):
        raise ValueError("accumulator update is for another family or benefit year")
    return current._plus(update)
