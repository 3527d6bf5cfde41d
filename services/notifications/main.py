"""Notifications service: webhook endpoints, the fan-out of platform events into durable
deliveries, the dispatcher that attempts them, and emails to organisations' contacts."""

from __future__ import annotations


from datetime import timedelta

from fastapi import FastAPI

from infra.http.app import create_service_app
from infra.runtime import ServiceRuntime
from services.notifications import api
from services.notifications.deliveries import DeliveryStore
from services.notifications.directory import Directory
from services.notifications.dispatcher import Dispatcher
from services.notifications.domain.emails import endpoint_disabled_email
from services.notifications.domain.retry_schedule import RetrySchedule
from services.notifications.due_queue import DueQueue, replica_name
from services.notifications.endpoints import Endpoints
from services.notifications.fanout import Fanout
from services.notifications.mailer import Mailer
from services.notifications.settings import NotificationsSettings
from services.notifications.webhook_sender import WebhookSender

FANOUT_GROUP = "notifications-fanout"
DIRECTORY_GROUP = "notifications-organizations"


def build_app(settings: NotificationsSettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or NotificationsSettings()
    # No event store: this service's facts (endpoints, deliveries) are documents; it
    # publishes nothing yet (notifications.events is reserved for delivery events).
    runtime = ServiceRuntime(settings, with_event_store=False)
    app = create_service_app(runtime, "Notifications", [api.router])
    replica = replica_name(settings.port)
    directory = Directory(runtime.db)
    deliveries = DeliveryStore(runtime.db, DueQueue(runtime.db["delivery_queue"], replica, settings.webhook_lease_seconds))
    mailer = Mailer(runtime.db, DueQueue(runtime.db["email_queue"], replica, settings.webhook_lease_seconds),
                    directory, settings)
    sender = WebhookSender(timeout_seconds=settings.webhook_timeout_seconds,
                           allow_private=settings.notifications_allow_private_targets,
                           require_https=settings.require_https)

    async def endpoint_disabled(org_id: str, endpoint: dict, reason: str) -> None:
        content = endpoint_disabled_email(endpoint["endpoint_id"], endpoint["url"], reason, settings.portal_base_url)
        await mailer.record(f"endpoint-disabled:{endpoint['endpoint_id']}", org_id, "endpoint.disabled", content)

    dispatcher = Dispatcher(
        deliveries=deliveries, queue=deliveries.queue, directory=directory, sender=sender,
        schedule=RetrySchedule(scale=settings.webhook_retry_scale, jitter=settings.webhook_retry_jitter),
        on_disabled=endpoint_disabled, per_endpoint=settings.webhook_concurrency_per_endpoint,
        concurrency=settings.webhook_concurrency, sweep_interval=settings.webhook_sweep_interval_seconds,
        disable_after=timedelta(seconds=settings.webhook_disable_after_failing_seconds),
    )
    app.state.endpoints = Endpoints(directory, allow_private=settings.notifications_allow_private_targets,
                                    require_https=settings.require_https,
                                    max_per_organization=settings.webhook_max_endpoints_per_organization)
    app.state.deliveries = deliveries
    app.state.dispatcher = dispatcher

    runtime.on_start.append(deliveries.ensure_indexes)
    runtime.consumer(DIRECTORY_GROUP, directory.subscriptions())
    runtime.consumer(FANOUT_GROUP, Fanout(directory, deliveries, dispatcher, mailer, settings.portal_base_url).subscriptions())
    runtime.background.append(dispatcher.run)
    runtime.background.append(mailer.run)
    return app, runtime



