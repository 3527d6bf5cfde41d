"""What one attempt's answer means for the delivery and for its endpoint.

2xx: delivered. 410 Gone: the receiver says the endpoint is no more; it is
disabled and nothing more is sent to it. 429 / 503: retried, no sooner than their
Retry-After. Any other answer (3xx included: redirects are not followed), a timeout,
a refused connection or a refused target address: retried on the schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"
    ENDPOINT_GONE = "endpoint_gone"


@dataclass(frozen=True)
class AttemptResult:
    """What the sender observed: a status (None when no answer came) or an error code."""

    status: int | None = None
    error: str | None = None
    """timeout, connect_error, target_refused:<reason>, ... (codes, never a message)."""
    retry_after: float | None = None
    duration_ms: float = 0.0


def judge(result: AttemptResult) -> Verdict:
    if result.status is not None and 200 <= result.status < 300:
        return Verdict.SUCCEEDED
    if result.status == 410:
        return Verdict.ENDPOINT_GONE
    return Verdict.RETRY


def honours_retry_after(result: AttemptResult) -> float | None:
    """The Retry-After to honour: only 429 and 503 carry one that binds us."""
    return result.retry_after if result.status in (429, 503) else None


def metric_outcome(result: AttemptResult) -> str:
    """A small fixed label set for metrics: success, http_4xx, http_5xx, http_other, gone, timeout, ..."""
    if result.status is None:
        return (result.error or "error").split(":", 1)[0]
    if 200 <= result.status < 300:
        return "success"
    if result.status == 410:
        return "gone"
    if 400 <= result.status < 500:
        return "http_4xx"
    if 500 <= result.status < 600:
        return "http_5xx"
    return "http_other"
