"""The claims service's own metrics. Labels never carry ids or patient data."""

from prometheus_client import Histogram

DAYS_TO_PAYMENT = Histogram(
    "claims_days_to_payment",
    "Days from a claim's receipt to its payment (prompt-pay laws: commonly 30 days for clean "
    "electronic claims, 15 in some states)",
    buckets=(1, 2, 5, 7, 10, 15, 20, 30, 45, 60, 90, 180, 365),
)
