"""Prometheus metrics shared by every process. Labels never carry ids or patient data."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_APPENDED = Counter("eventstore_events_appended_total", "Events appended", ["service", "type"])
EVENTS_PUBLISHED = Counter("outbox_events_published_total", "Events published by the relay", ["service", "topic"])
OUTBOX_BACKLOG = Gauge("outbox_unpublished_events", "Events waiting for the relay", ["service"])
EVENTS_CONSUMED = Counter(
    "consumer_events_total", "Events handled by consumers", ["service", "group", "topic", "outcome"]
)
DEAD_LETTERS = Counter("consumer_dead_letters_total", "Events parked on a dead-letter topic", ["service", "group", "topic"])
MONGODB_COMMANDS = Counter(
    "mongodb_commands_total",
    "Commands sent to MongoDB (FerretDB v1 charges ~0.6 ms of CPU for each: round trips are the budget)",
    ["service", "command", "collection"],
)
