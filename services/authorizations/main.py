"""Authorizations service: prior-authorization requests, the review workflow, decision clocks,
auto-approval rules, expiry, and the units claims used."""

from fastapi import FastAPI

from infra.attachments.store import AttachmentStore
from infra.http.app import create_service_app
from infra.messages import MessageStore
from infra.runtime import ServiceRuntime
from refdata import codes
from services.authorizations import analytics, api, attachments, messages
from services.authorizations.domain import load_clocks, load_rules
from services.authorizations.domain.rules import gold_card_lookback_days
from services.authorizations.gold_card import GROUP as GOLD_CARD_GROUP
from services.authorizations.gold_card import DecisionCounts
from services.authorizations.intake import Intake
from services.authorizations.members import MemberCopy
from services.authorizations.queue import GROUP as QUEUE_GROUP
from services.authorizations.queue import AuthorizationQueue
from services.authorizations.repository import AuthorizationRepository
from services.authorizations.settings import AuthorizationsSettings
from services.authorizations.sweeper import Sweeper
from services.authorizations.usage import GROUP as UNITS_GROUP
from services.authorizations.usage import UnitsUsed
from services.authorizations.workflow import MESSAGES, Workflow


def build_app(settings: AuthorizationsSettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or AuthorizationsSettings()
    shortened = settings.decision_clock_expedited_seconds or settings.decision_clock_standard_seconds
    if shortened and settings.platform_env == "production":
        raise RuntimeError("shortened decision clocks are for tests and local try-outs only")
    runtime = ServiceRuntime(settings)
    app = create_service_app(runtime, "Authorizations", [api.router, attachments.router, messages.router,
                                                                        analytics.router],
                             body_limits=attachments.body_limit)
    assert runtime.store is not None
    repository = AuthorizationRepository(runtime.store)
    members = MemberCopy(runtime.db, settings)
    rules = load_rules()
    counts = DecisionCounts(runtime.db, gold_card_lookback_days(rules))
    clocks = load_clocks().shortened(settings.decision_clock_expedited_seconds, settings.decision_clock_standard_seconds)
    queue = AuthorizationQueue(runtime.db)
    attachment_store = AttachmentStore(runtime.db)
    message_store = MessageStore(runtime.db, MESSAGES)
    workflow = Workflow(repository, message_store, attachment_store)
    app.state.authorizations = api.Services(repository, Intake(repository, members, counts, clocks, rules),
                                            workflow, queue, runtime.store)
    app.state.attachments = attachments.AuthorizationAttachments(repository, attachment_store, runtime.store)
    app.state.messages = messages.AuthorizationMessages(repository, message_store, attachment_store, runtime.store)
    sweeper = Sweeper(runtime.db, repository, queue, interval_seconds=settings.authorization_sweep_interval_seconds)

    async def warm_up() -> None:
        codes.preload()
        await queue.ensure_indexes()
        await attachment_store.ensure_indexes()

    runtime.on_start.append(warm_up)
    runtime.consumer("authorizations-members", members.subscriptions())
    runtime.consumer(QUEUE_GROUP, queue.subscriptions())
    runtime.consumer(GOLD_CARD_GROUP, counts.subscriptions())
    runtime.consumer(UNITS_GROUP, UnitsUsed(repository).subscriptions())
    runtime.consumer(analytics.GROUP, analytics.AuthorizationMetrics(runtime.db).subscriptions())
    runtime.background.append(sweeper.sweep_forever)
    return app, runtime
