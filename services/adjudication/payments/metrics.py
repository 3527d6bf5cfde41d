"""Payment-run metrics. Labels never carry ids or patient data."""

from decimal import Decimal

from prometheus_client import Counter, Histogram

RUNS = Counter("payment_runs_total", "Payment runs completed")
REMITTANCES = Counter("payment_remittances_total", "Remittances (one payment each) issued")
CLAIMS_SETTLED = Counter("payment_claims_settled_total", "Claims (and reversals) settled by payment runs")
AMOUNT_PAID = Counter("payment_amount_paid_total", "Money paid to providers by payment runs (dollars)")
RUN_SECONDS = Histogram(
    "payment_run_duration_seconds", "Time a payment run took, from taking the lease to completed",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)


STEP_SECONDS = Histogram(
    "payment_run_step_seconds", "Time of each step of a payment run", ["step"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)


def record_run(remittances: int, claims: int, total: Decimal) -> None:
    RUNS.inc()
    REMITTANCES.inc(remittances)
    CLAIMS_SETTLED.inc(claims)
    AMOUNT_PAID.inc(float(total))
