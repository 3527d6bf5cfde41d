"""A denied line: nothing allowed, nothing paid, the whole charge a CO adjustment.

The provider may not bill the patient for a contractual (CO) denial, so patient
responsibility stays zero and charge = paid + patient responsibility + adjustments
holds with the single adjustment equal to the charge.
"""

from __future__ import annotations

from decimal import Decimal

from .decision import Adjustment, LineDecision

ZERO = Decimal("0.00")


def denied_line(line_number: int, procedure_code: str, charge: Decimal, carc: str) -> LineDecision:
    return LineDecision(
        line_number=line_number,
        procedure_code=procedure_code,
        charge_amount=charge,
        allowed_amount=ZERO,
        deductible=ZERO,
        copay=ZERO,
        coinsurance=ZERO,
        paid_amount=ZERO,
        patient_responsibility=ZERO,
        adjustments=[Adjustment(group="CO", carc=carc, amount=charge)],
    )
