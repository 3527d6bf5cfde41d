"""Line pricing: the allowed amount from the fee schedule, lesser of charge.

A line is priced only when the member is identified and covered on its date of
service (coverage.py); otherwise it is denied whole. Then, first slice: what is
allowed is paid. Benefits (deductible, copay, coinsurance,
out-of-pocket maximum) and authorization checks come later and will move part of
the allowed amount to PR adjustments; the invariant below already holds for that.

Per line: charge = paid + patient responsibility + CO/OA adjustments.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from .decision import (
    CARC_EXCEEDS_FEE_SCHEDULE,
    CARC_NOT_COVERED,
    Adjustment,
    Decision,
    LineDecision,
    Totals,
    adjudication_id_for,
)
from .coverage import MemberCoverage, coverage_denial
from .denial import denied_line
from .fee_schedule import FeeSchedule
from contracts.money import Money, to_cents

ZERO = Decimal("0.00")


class _Received(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LineToPrice(_Received):
    line_number: int
    procedure_code: str
    units: int
    charge_amount: Money
    date_of_service: date


class ClaimToPrice(_Received):
    """What pricing reads from a claim.received payload (which carries more)."""

    claim_id: str
    patient_date_of_birth: date
    lines: list[LineToPrice]


def price_claim(
    claim_received_payload: Mapping[str, Any],
    fee_schedule: FeeSchedule,
    *,
    member: MemberCoverage | None,
    adjudicated_at: datetime,
    claim_version: int = 1,
    in_network: bool = True,
) -> Decision:
    """Decide every line of a received claim: denied for want of coverage, or priced.

    member is adjudication's copy of the claim's member, None when unknown to it
    (every line is then denied CO-31: an unidentified member is never paid).

    claim_version is the stream version of the event being adjudicated (1 for
    claim.received); with claim_id it makes the adjudication id, so a replay
    decides under the same id. adjudicated_at is passed in to keep this pure.
    """
    if adjudicated_at.tzinfo is None:
        raise ValueError("adjudicated_at must be timezone-aware")
    claim = ClaimToPrice.model_validate(claim_received_payload)
    lines = [_decide_line(line, claim, member, fee_schedule, in_network=in_network) for line in claim.lines]
    return Decision(
        adjudication_id=adjudication_id_for(claim.claim_id, claim_version),
        claim_id=claim.claim_id,
        claim_version=claim_version,
        outcome="denied" if all(line.denied for line in lines) else "processed",
        adjudicated_at=adjudicated_at.astimezone(UTC),
        lines=lines,
        totals=Totals(
            charge=sum((line.charge_amount for line in lines), ZERO),
            allowed=sum((line.allowed_amount for line in lines), ZERO),
            paid=sum((line.paid_amount for line in lines), ZERO),
            patient_responsibility=sum((line.patient_responsibility for line in lines), ZERO),
        ),
    )


def _decide_line(
    line: LineToPrice, claim: ClaimToPrice, member: MemberCoverage | None, fee_schedule: FeeSchedule, *,
    in_network: bool,
) -> LineDecision:
    carc = coverage_denial(member, date_of_birth=claim.patient_date_of_birth, date_of_service=line.date_of_service)
    if carc is not None:
        return denied_line(line.line_number, line.procedure_code, line.charge_amount, carc)
    return price_line(line, fee_schedule, in_network=in_network)


def price_line(line: LineToPrice, fee_schedule: FeeSchedule, *, in_network: bool = True) -> LineDecision:
    charge = line.charge_amount
    per_unit = fee_schedule.allowed_per_unit(line.procedure_code, in_network=in_network)
    if per_unit is None:
        return denied_line(line.line_number, line.procedure_code, charge, CARC_NOT_COVERED)
    allowed = min(charge, to_cents(per_unit * line.units))
    reduction = charge - allowed
    adjustments = (
        [Adjustment(group="CO", carc=CARC_EXCEEDS_FEE_SCHEDULE, amount=reduction)] if reduction > 0 else []
    )
    return _line(line, allowed=allowed, adjustments=adjustments)


def _line(line: LineToPrice, *, allowed: Decimal, adjustments: list[Adjustment]) -> LineDecision:
    return LineDecision(
        line_number=line.line_number,
        procedure_code=line.procedure_code,
        charge_amount=line.charge_amount,
        allowed_amount=allowed,
        deductible=ZERO,
        copay=ZERO,
        coinsurance=ZERO,
        paid_amount=allowed,
        patient_responsibility=ZERO,
        adjustments=adjustments,
    )
