"""Pricing: the amount the fee schedule allows for a line, with its modifiers (docs/adjudication-rules.md §7).

Every multiplication is rounded half up to the cent, in the order the rules give,
so that a provider can redo the arithmetic from the explanation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from contracts.money import to_cents

from .fee_schedule import Rate

HUNDRED = Decimal(100)
BILATERAL_PERCENT = Decimal(150)
MULTIPLE_PROCEDURE_PERCENT = Decimal(50)


@dataclass(frozen=True)
class Scheduled:
    amount: Decimal
    """The line's scheduled amount (per unit × units, modifiers applied) before the multiple-procedure rule."""
    explanation: tuple[str, ...]


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    return to_cents(amount * percent / HUNDRED)


def scheduled_amount(
    rate: Rate, *, modifiers: Sequence[str], units: int, out_of_network_percent: Decimal | None, schedule_version: str
) -> Scheduled:
    """Fee × component share × out-of-network percent × bilateral, then × units."""
    amount = rate.amount
    notes = [f"Fee schedule {schedule_version}: {rate.code} allows {amount} per unit"]
    if rate.splits_components and ("26" in modifiers or "TC" in modifiers):
        share = rate.professional_percent if "26" in modifiers else HUNDRED - rate.professional_percent
        amount = percent_of(amount, share)
        part = "professional component (26)" if "26" in modifiers else "technical component (TC)"
        notes.append(f"{part}: {share.normalize():f}% of the global amount = {amount}")
    if out_of_network_percent is not None:
        amount = percent_of(amount, out_of_network_percent)
        notes.append(f"out-of-network rate: {out_of_network_percent.normalize():f}% = {amount}")
    if "50" in modifiers and rate.bilat_surg == "1":
        amount = percent_of(amount, BILATERAL_PERCENT)
        notes.append(f"bilateral procedure (50): 150% = {amount}")
    total = to_cents(amount * units)
    if units != 1:
        notes.append(f"{units} units: {amount} x {units} = {total}")
    return Scheduled(total, tuple(notes))


def by_report(charge: Decimal, percent: Decimal) -> Scheduled:
    amount = percent_of(charge, percent)
    return Scheduled(amount, (f"unlisted procedure priced by report: {percent.normalize():f}% of the charge = {amount}",))


def multiple_procedure_ranks(candidates: Sequence[tuple[int, Decimal]]) -> dict[int, int]:
    """line number -> rank (1 = paid in full) among same-day lines subject to the reduction.

    Highest scheduled amount first; ties go to the lower line number.
    """
    ordered = sorted(candidates, key=lambda item: (-item[1], item[0]))
    return {line_number: rank for rank, (line_number, _) in enumerate(ordered, start=1)}
