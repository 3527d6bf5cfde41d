"""Authorization metrics on real Kafka and FerretDB, in process (the authorizations service is
not on this branch yet): authorizations.events published with the contract's models, the
projection as a consumer group of its own, figures checked by hand, redelivery counted once,
and a rebuild from offset zero giving the same figures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient

from contracts import topics
from contracts.envelope import new_event
from contracts.events import authorizations as a
from infra.consumer import ConsumerRunner
from infra.kafka import create_producer
from infra.settings import PlatformSettings
from infra.subscriptions import Subscriptions
from services.authorizations.analytics import GROUP, AuthorizationMetrics
from tests.support.eligibility import publish
from tests.support.waiting import eventually

DAY = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def _history(org: str, urgency: str, minutes: int, outcome: str, *, info: bool = False, overdue: bool = False):
    auth_id, member = f"pa-{uuid.uuid4().hex[:10]}", f"M{uuid.uuid4().hex[:8]}"
    common = {"authorization_id": auth_id, "member_id": member, "organization_id": org}
    submitted = a.AuthorizationSubmitted(
        **common, requesting_provider_npi="1234567893", urgency=urgency, procedure_codes=["72148"],
        diagnosis_codes=["M54.5"], requested_units=1, start_date=DAY.date(), end_date=DAY.date() + timedelta(days=30),
        submitted_at=DAY, decision_due_at=DAY + timedelta(hours=72 if urgency == "standard" else 24),
        plan_id="gold-hmo-2026")  # a field the projection ignores
    steps = [(a.AUTHORIZATION_SUBMITTED, submitted)]
    if info:
        steps.append((a.AUTHORIZATION_INFO_REQUESTED, a.AuthorizationStatusChanged(**common, at=DAY + timedelta(minutes=1))))
    if overdue:
        steps.append((a.AUTHORIZATION_OVERDUE, a.AuthorizationStatusChanged(**common, at=DAY + timedelta(hours=25))))
    decided = DAY + timedelta(minutes=minutes)
    if outcome == "approved":
        steps.append((a.AUTHORIZATION_APPROVED, a.AuthorizationApproved(
            **common, procedure_codes=["72148"], approved_units=1, start_date=DAY.date(),
            end_date=DAY.date() + timedelta(days=30), approved_at=decided, urgency=urgency)))
    elif outcome == "denied":
        steps.append((a.AUTHORIZATION_DENIED, a.AuthorizationDenied(**common, reason_code="50", denied_at=decided)))
    return [new_event(source="/services/authorizations", type=t, subject=auth_id, data=p.to_data(),
                      aggregateversion=i + 1, organizationid=org, partitionkey=member).model_dump(mode="json")
            for i, (t, p) in enumerate(steps)]


async def test_authorization_metrics_by_hand_and_rebuilt(infra_stack):
    org, other = f"org-{uuid.uuid4().hex[:8]}", f"org-{uuid.uuid4().hex[:8]}"
    events = []
    # standard: approved in 60, 120 (after an info request), 600 minutes; denied in 30; one undecided
    events += _history(org, "standard", 60, "approved")
    events += _history(org, "standard", 120, "approved", info=True)
    events += _history(org, "standard", 600, "approved")
    events += _history(org, "standard", 30, "denied")
    events += _history(org, "standard", 0, "none")
    # expedited: approved in 10, denied in 1,560 after being marked overdue (due in 24 h)
    events += _history(org, "expedited", 10, "approved")
    events += _history(org, "expedited", 1560, "denied", overdue=True)
    events += _history(other, "standard", 5, "denied")
    settings = PlatformSettings(kafka_bootstrap_servers=infra_stack.kafka_bootstrap, mongodb_uri=infra_stack.mongodb_uri)
    client = AsyncMongoClient(infra_stack.mongodb_uri, tz_aware=True, retryWrites=False)
    db = client[f"test_analytics_{uuid.uuid4().hex[:6]}"]
    metrics = AuthorizationMetrics(db)
    runner = ConsumerRunner(settings, f"{GROUP}-{uuid.uuid4().hex[:6]}", [topics.AUTHORIZATIONS],
                            Subscriptions(metrics.subscriptions()), lambda: create_producer(settings, "test"))
    # Every event twice: a redelivery must not count again.
    await publish(infra_stack.kafka_bootstrap, topics.AUTHORIZATIONS, events + events)
    runner.start()
    try:
        async def decided():
            standard, expedited = await metrics.figures(org, DAY.date(), DAY.date() + timedelta(days=1))
            return (standard, expedited) if standard["decided"] == 4 and expedited["decided"] == 2 else None

        standard, expedited = await eventually(decided, timeout=60, what="authorization metrics")
    finally:
        await runner.stop()
    assert standard == {
        "urgency": "standard", "submitted": 5, "decided": 4, "approved": 3, "denied": 1,
        "approved_after_info_request": 1, "approval_rate": 0.75, "denial_rate": 0.25,
        "approved_after_info_request_rate": 0.25,
        "mean_decision_seconds": (60 + 120 + 600 + 30) * 60 / 4,
        "median_decision_seconds": (60 + 120) * 60 / 2,
        "decided_after_due": 0, "overdue": 0,
    }
    assert expedited["decided"] == 2 and expedited["approval_rate"] == 0.5
    assert expedited["mean_decision_seconds"] == (10 + 1560) * 60 / 2
    assert expedited["median_decision_seconds"] == (10 + 1560) * 60 / 2
    assert expedited["overdue"] == 1 and expedited["decided_after_due"] == 1
    # The other organisation's denial is its own, and in everyone's.
    (theirs, _) = await metrics.figures(other, DAY.date(), DAY.date())
    assert theirs["denied"] == 1 and theirs["decided"] == 1

    rebuilt = AuthorizationMetrics(db, prefix="rebuilt_")
    await rebuilt.rebuild(settings)
    assert await rebuilt.figures(org, DAY.date(), DAY.date() + timedelta(days=1)) == [standard, expedited]
    assert await rebuilt.figures(org, DAY.date().replace(day=1), DAY.date().replace(day=31)) == [standard, expedited]
    await client.drop_database(db.name)
    await client.close()
