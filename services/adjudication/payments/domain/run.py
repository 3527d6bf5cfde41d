"""Building a payment run: payables up to a cutoff, grouped by organisation, netted against carried balances.

Per organisation with at least one payable in the run (sign conventions in the
package docstring):

    net = sum of its claims' paid amounts (reversals negative, denials 0)
    net < 0:  payment 0, WO = -net (> 0);             balance' = balance + net
    net >= 0: r = min(net, -balance); FB = -r (< 0, omitted when r = 0);
              payment = net - r;                      balance' = balance + r

so payment = net + sum(adjustments) >= 0, and balance' - balance = -sum(adjustments):
what the payments and the carried balances hold together never changes
(sum(payments) + sum(balance') = sum(claims paid) + sum(balance)).

Planning is separate from issuing: plan_run fixes every amount; issue_remittance
adds the trace number and paid_at the process obtained (ADR 15 step 3), so a retry
reissues the same remittance. build_run does both with consecutive sequences in
organisation order, for a process that reserves one block of sequences per run.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from services.adjudication.payments.domain.models import (
    Payable,
    Payee,
    Payment,
    ProviderAdjustment,
    Remittance,
    RemittanceClaim,
)
from services.adjudication.payments.domain.trace import eft_trace_number

ZERO = Decimal("0.00")
REMITTANCE_NAMESPACE = uuid.UUID("3b8f0c52-1d6e-4f7a-9c2b-8e5d4a6f1b90")


def remittance_id(payment_run_id: str, organization_id: str) -> str:
    """Deterministic: the same run and organisation always name the same remittance."""
    return str(uuid.uuid5(REMITTANCE_NAMESPACE, f"remittance:{payment_run_id}:{organization_id}"))


@dataclass(frozen=True)
class RemittancePlan:
    """One organisation's remittance in a run, every amount fixed, before its trace number."""

    remittance_id: str
    payment_run_id: str
    organization_id: str
    payee: Payee
    claims: tuple[RemittanceClaim, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...]
    amount: Decimal
    balance_before: Decimal
    balance_after: Decimal
    payable_ids: tuple[str, ...]


@dataclass(frozen=True)
class RunPlan:
    payment_run_id: str
    cutoff: datetime
    remittances: tuple[RemittancePlan, ...]
    """One per organisation with payables in the run, by organisation id."""
    balances: Mapping[str, Decimal]
    """Every organisation's carried balance after the run (<= 0), the untouched ones included."""
    deferred: tuple[str, ...]
    """Payable ids after the cutoff: left for a later run."""

    @property
    def payable_ids(self) -> tuple[str, ...]:
        return tuple(pid for plan in self.remittances for pid in plan.payable_ids)


@dataclass(frozen=True)
class PaymentRun:
    payment_run_id: str
    remittances: tuple[Remittance, ...]
    balances: Mapping[str, Decimal]


def _claim(payable: Payable) -> RemittanceClaim:
    return RemittanceClaim(
        claim_id=payable.claim_id, status_code=payable.status_code, charge=payable.charge,
        allowed=payable.allowed, paid=payable.paid, patient_responsibility=payable.patient_responsibility,
        lines=payable.lines, original_remittance_id=payable.original_remittance_id,
    )


def _order(payable: Payable) -> tuple:
    # A claim's reversal before the claims after it; ties by claim id, reversal first.
    return (payable.at, payable.claim_id, payable.kind != "reversal")


def _payee(organization_id: str, payables: list[Payable]) -> Payee:
    tins = {p.tin for p in payables}
    if len(tins) != 1:
        raise ValueError(f"organisation {organization_id} has payables under several TINs: {sorted(tins)}")
    # The billing NPI most of its claims name; ties to the smallest, so the choice is deterministic.
    npis = Counter(p.billing_npi for p in payables)
    npi = min(npis, key=lambda n: (-npis[n], n))
    return Payee(tin=tins.pop(), npi=npi)


def _settle(payment_run_id: str, organization_id: str, payables: list[Payable],
            balance: Decimal) -> RemittancePlan:
    payables = sorted(payables, key=_order)
    net = sum((p.paid for p in payables), ZERO)
    adjustments: list[ProviderAdjustment] = []
    if net < 0:
        adjustments.append(ProviderAdjustment(reason="WO", amount=-net))
        after = balance + net
    else:
        recovered = min(net, -balance)
        if recovered:
            adjustments.append(ProviderAdjustment(reason="FB", amount=-recovered))
        after = balance + recovered
    amount = net + sum((a.amount for a in adjustments), ZERO)
    return RemittancePlan(
        remittance_id=remittance_id(payment_run_id, organization_id),
        payment_run_id=payment_run_id,
        organization_id=organization_id,
        payee=_payee(organization_id, payables),
        claims=tuple(_claim(p) for p in payables),
        provider_adjustments=tuple(adjustments),
        amount=amount,
        balance_before=balance,
        balance_after=after,
        payable_ids=tuple(p.payable_id for p in payables),
    )


def plan_run(payment_run_id: str, payables: Iterable[Payable], balances: Mapping[str, Decimal],
             cutoff: datetime) -> RunPlan:
    """Every payable at or before cutoff, once, netted per organisation against its carried balance.

    balances: each organisation's carried-forward balance, zero or negative (what the
    provider owes from earlier runs); an organisation not named carries nothing.
    """
    if cutoff.tzinfo is None:
        raise ValueError("cutoff must be timezone-aware")
    for organization_id, balance in balances.items():
        if balance > 0:
            raise ValueError(f"a carried balance is zero or negative (what the provider owes): {organization_id}")
    seen: set[str] = set()
    by_organization: dict[str, list[Payable]] = {}
    deferred: list[str] = []
    for payable in payables:
        if payable.payable_id in seen:
            raise ValueError(f"payable {payable.payable_id} given twice")
        seen.add(payable.payable_id)
        if payable.at > cutoff:
            deferred.append(payable.payable_id)
        else:
            by_organization.setdefault(payable.organization_id, []).append(payable)
    plans = tuple(
        _settle(payment_run_id, organization_id, by_organization[organization_id],
                balances.get(organization_id, ZERO))
        for organization_id in sorted(by_organization)
    )
    after = {organization_id: balance + ZERO for organization_id, balance in balances.items()}
    after.update({plan.organization_id: plan.balance_after for plan in plans})
    return RunPlan(payment_run_id, cutoff, plans, MappingProxyType(dict(sorted(after.items()))),
                   tuple(sorted(deferred)))


def issue_remittance(plan: RemittancePlan, *, eft_trace_number: str, paid_at: datetime) -> Remittance:
    return Remittance(
        remittance_id=plan.remittance_id,
        payment_run_id=plan.payment_run_id,
        organization_id=plan.organization_id,
        payee=plan.payee,
        payment=Payment(eft_trace_number=eft_trace_number, amount=plan.amount, paid_at=paid_at),
        claims=plan.claims,
        provider_adjustments=plan.provider_adjustments,
    )


def build_run(payment_run_id: str, payables: Iterable[Payable], balances: Mapping[str, Decimal], *,
              cutoff: datetime, paid_at: datetime, payer_id: str, first_sequence: int) -> PaymentRun:
    """plan_run, then each remittance issued with sequence first_sequence + i in organisation order."""
    plan = plan_run(payment_run_id, payables, balances, cutoff)
    remittances = tuple(
        issue_remittance(remittance, eft_trace_number=eft_trace_number(payer_id, first_sequence + index),
                         paid_at=paid_at)
        for index, remittance in enumerate(plan.remittances)
    )
    return PaymentRun(payment_run_id, remittances, plan.balances)
