"""Prometheus metrics of the notifications service. Labels are fixed small sets: never an id,
a URL or anything about a patient."""

from prometheus_client import Counter, Gauge, Histogram

DELIVERIES_CREATED = Counter("webhook_deliveries_recorded_total", "Deliveries recorded (one per event and endpoint; a replay counts again)")
DELIVERIES_ENDED = Counter("webhook_deliveries_finished_total", "Deliveries by final outcome (succeeded, exhausted, failed)", ["outcome"])
ATTEMPTS = Counter("webhook_attempts_total", "Delivery attempts by outcome", ["outcome"])
ATTEMPT_SECONDS = Histogram(
    "webhook_attempt_duration_seconds", "One attempt, resolution to answer",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
)
FIRST_ATTEMPT_SECONDS = Histogram(
    "webhook_event_to_first_attempt_seconds", "From the event's time to its delivery's first attempt starting",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
QUEUE_DEPTH = Gauge("webhook_queue_depth", "Deliveries with an attempt still to come (all replicas)")
OLDEST_PENDING = Gauge("webhook_oldest_pending_age_seconds", "Age of the oldest delivery still to be delivered")
ENDPOINTS_DISABLED = Counter("webhook_endpoints_disabled_total", "Endpoints disabled", ["reason"])
EMAILS = Counter("notification_emails_total", "Emails to organisations' contacts by outcome", ["outcome"])
