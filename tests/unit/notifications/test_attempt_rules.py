"""What an answer means (2xx, 410, 429/503, the rest), endpoint health, secret rotation."""

from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import Webhook

from services.notifications.domain.attempt_outcome import AttemptResult, Verdict, honours_retry_after, judge, metric_outcome
from services.notifications.domain.endpoint_health import DISABLE_AFTER, after_failure, after_success
from services.notifications.domain.secrets import ROTATION_OVERLAP, new_secret, rotated, signing_secrets
from services.notifications.webhook_sender import sign

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_verdicts():
    assert judge(AttemptResult(status=200)) is judge(AttemptResult(status=204)) is Verdict.SUCCEEDED
    assert judge(AttemptResult(status=410)) is Verdict.ENDPOINT_GONE
    for status in (301, 302, 400, 404, 429, 500, 503):
        assert judge(AttemptResult(status=status)) is Verdict.RETRY
    assert judge(AttemptResult(error="timeout")) is Verdict.RETRY
    assert honours_retry_after(AttemptResult(status=429, retry_after=5)) == 5
    assert honours_retry_after(AttemptResult(status=503, retry_after=5)) == 5
    assert honours_retry_after(AttemptResult(status=500, retry_after=5)) is None
    assert [metric_outcome(AttemptResult(status=s)) for s in (200, 410, 404, 502, 302)] == [
        "success", "gone", "http_4xx", "http_5xx", "http_other"]
    assert metric_outcome(AttemptResult(error="target_refused:loopback_address")) == "target_refused"


def test_an_endpoint_is_disabled_after_five_days_of_failing():
    first = after_failure(None, NOW)
    assert first.failing_since == NOW and not first.disable
    assert not after_failure(NOW, NOW + DISABLE_AFTER - timedelta(seconds=1)).disable
    assert after_failure(NOW, NOW + DISABLE_AFTER).disable
    assert after_success().failing_since is None


def test_rotation_keeps_the_old_secret_signing_for_a_day():
    old = {"secret": new_secret(), "created_at": NOW - timedelta(days=3), "expires_at": None}
    secrets = rotated([old], NOW, new_secret())
    assert [s["secret"] for s in secrets][1:] == [old["secret"]] and secrets[1]["expires_at"] == NOW + ROTATION_OVERLAP
    assert len(signing_secrets(secrets, NOW + timedelta(hours=23))) == 2
    assert [s["secret"] for s in signing_secrets(secrets, NOW + timedelta(hours=24))] == [secrets[0]["secret"]]
    twice = rotated(secrets, NOW + timedelta(hours=1), new_secret())
    assert len(twice) == 3 and twice[2]["expires_at"] == NOW + ROTATION_OVERLAP


def test_both_signatures_verify_with_the_standard_library():
    a, b = new_secret(), new_secret()
    assert a.startswith("whsec_") and a != b
    body = '{"type":"claim.paid","timestamp":"2026-12-01T12:00:00Z","data":{"claim_id":"c-1"}}'
    now = datetime.now(UTC)
    signature = sign([a, b], "msg_1", now, body)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature}
    assert len(signature.split(" ")) == 2
    for secret in (a, b):
        assert Webhook(secret).verify(body, headers)["data"]["claim_id"] == "c-1"
