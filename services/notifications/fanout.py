"""The fan-out: each platform event becomes one delivery per subscribed endpoint, and maybe an email.

Runs as a consumer group over claims.events, adjudication.events and
authorizations.events (only the types of domain/event_types.py that have a
contract). Every delivery and email is stored before the handler returns, and the
consumer runner commits offsets only after handlers return (infra/consumer.py):
an event whose deliveries are not durable is read again, never lost. Ids are
derived from the event id, so reading it again stores nothing twice.

An endpoint receives the events that happened after it was created (its created_at
is not after the event's time): a replay of old events does not flood a new endpoint.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from contracts.envelope import CloudEvent
from contracts.registry import BY_TYPE
from services.notifications import metrics
from services.notifications.deliveries import PENDING, DeliveryStore, delivery_id_for, webhook_id_for
from services.notifications.directory import Directory
from services.notifications.dispatcher import Dispatcher
from services.notifications.domain.emails import email_for
from services.notifications.domain.event_types import EMAILED_EVENT_TYPES, WEBHOOK_EVENT_TYPES
from services.notifications.domain.payloads import webhook_body, webhook_data
from services.notifications.mailer import Mailer

log = logging.getLogger(__name__)


def fanned_out_types() -> list[str]:
    """The public event types some service publishes (has a contract) today."""
    return [t for t in WEBHOOK_EVENT_TYPES if t in BY_TYPE]


def organization_of(event: CloudEvent) -> str | None:
    return event.organizationid or event.data.get("organization_id")


def subscribed(endpoint: dict[str, Any], event: CloudEvent) -> bool:
    return (
        endpoint.get("status") == "active"
        and event.type in (endpoint.get("event_types") or ())
        and endpoint["created_at"] <= event.time
    )


class Fanout:
    def __init__(self, directory: Directory, deliveries: DeliveryStore, dispatcher: Dispatcher, mailer: Mailer,
                 portal_url: str) -> None:
        self.directory = directory
        self.deliveries = deliveries
        self.dispatcher = dispatcher
        self.mailer = mailer
        self.portal_url = portal_url

    def subscriptions(self) -> dict:
        return {event_type: self.on_event for event_type in fanned_out_types()}

    async def on_event(self, _payload, event: CloudEvent) -> None:
        org_id = organization_of(event)
        if not org_id:
            log.warning("event without an organisation; nothing to notify", extra={"event_id": event.id,
                                                                                   "event_type": event.type})
            return
        org = await self.directory.organization(org_id) or {}
        now = datetime.now(UTC)
        event_time = event.time if event.time.tzinfo else event.time.replace(tzinfo=UTC)
        body = None
        new = []
        for endpoint_id, endpoint in sorted((org.get("endpoints") or {}).items()):
            if not subscribed(endpoint, event):
                continue
            body = body or webhook_body(event.type, event_time, event.data)
            new.append({
                "_id": delivery_id_for(event.id, endpoint_id), "webhook_id": webhook_id_for(event.id),
                "organization_id": org_id, "endpoint_id": endpoint_id, "event_id": event.id,
                "event_type": event.type, "event_time": event_time, "body": body, "status": PENDING,
                "attempts": [], "attempts_in_round": 0, "round": 1, "next_attempt_at": now, "created_at": now,
            })  # fmt: skip
        if new:
            entries = await self.deliveries.record(new)
            metrics.DELIVERIES_CREATED.inc(len(new))
            for entry in entries:
                self.dispatcher.offer(entry["_id"], entry["endpoint_id"], now, entry)
        if event.type in EMAILED_EVENT_TYPES:
            content = email_for(event.type, webhook_data(event.type, event.data), self.portal_url)
            await self.mailer.record(f"event:{event.id}", org_id, event.type, content)
