"""The pure domain of payment runs (ADR 15): payables, runs, EFT traces, 835-style remittances.

No I/O: the payments process (services/adjudication/payments/, to come) stores what
these functions compute, one atomic document write per step.

835 semantics, as API.md's remittance names them:

- One remittance and one payment per provider organisation (payee: its TIN, N1*PE)
  per run. payment is BPR (method ACH, amount) plus TRN (eft_trace_number, see
  trace.py); it is issued even when the amount is 0, so the provider is told why.
- claims are CLP segments: status_code "1" processed as primary (paid as
  adjudicated), "4" denied (listed with paid 0 when the run's input includes it),
  "22" reversal of an earlier payment (a paid claim replaced, frequency 7, or
  voided, 8): the original's claim and lines with every amount negated, and
  original_remittance_id naming the remittance that paid it. A replacement's own
  payment is an ordinary status 1 claim in the same or a later run.
- Lines (SVC) and their adjustments (CAS) are exactly as adjudicated.
- provider_adjustments are PLB segments. WO: the net of a run was negative (the
  reversals exceed the new payments), the payment is 0 and the shortfall is carried
  forward; FB: a carried balance recovered from a later net, as far as it allows
  (what it does not cover stays carried). L6 (interest) is in the model, unused.

Sign conventions:

- Claim and line amounts: positive for money paid, negative on a reversal (22).
- Provider adjustments are signed so that, for every remittance,
      payment.amount = sum(claims[].paid) + sum(provider_adjustments[].amount)
  (API.md's rule). WO is therefore positive (it raises a negative net to 0) and FB
  negative (it lowers the payment by what is recovered). This is the opposite of
  X12's PLB04, where BPR02 = sum(CLP04) - sum(PLB04): an 835 writer negates these.
- A carried-forward balance is zero or negative: what the provider owes from earlier
  runs. A WO of x moves it by -x, an FB of -y by +y; it changes by exactly
  -sum(provider_adjustments), i.e. by the reversals not recovered.
- payment.amount is never negative.
"""

from services.adjudication.payments.domain.models import (
    ClaimAdjustment,
    Payable,
    Payee,
    Payment,
    ProviderAdjustment,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
)
from services.adjudication.payments.domain.payables import claim_payable, decision_payable, reversal_payable
from services.adjudication.payments.domain.run import (
    PaymentRun,
    RemittancePlan,
    RunPlan,
    build_run,
    issue_remittance,
    plan_run,
    remittance_id,
)
from services.adjudication.payments.domain.trace import eft_trace_number, parse_eft_trace_number

__all__ = [
    "ClaimAdjustment", "Payable", "Payee", "Payment", "PaymentRun", "ProviderAdjustment", "Remittance",
    "RemittanceClaim", "RemittanceLine", "RemittancePlan", "RunPlan", "build_run", "claim_payable", "decision_payable",
    "eft_trace_number", "issue_remittance", "parse_eft_trace_number", "plan_run", "remittance_id",
    "reversal_payable",
]
