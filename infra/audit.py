"""Audit trail of every access to patient data.

An access record is an event of its own (a one-event stream) written through the
service's outbox to audit.events: it is durable as soon as the request that caused
it is, and it reaches the audit read side even if Kafka was down at the time.
"""

import uuid
from datetime import UTC, datetime

from contracts import topics
from contracts.envelope import new_event
from infra.eventstore import EventStore
from infra.http.auth import Principal

ACCESS_EVENT = "patient_data.accessed"


async def record_access(
    store: EventStore,
    principal: Principal,
    *,
    source: str,
    action: str,
    resource: str,
    member_id: str | None,
    outcome: str,
    organization_id: str | None = None,
    at: datetime | None = None,
) -> None:
    at = at or datetime.now(UTC)
    access_id = str(uuid.uuid4())
    await store.append(
        f"access-{access_id}",
        topics.AUDIT,
        new_event(
            source=source, type=ACCESS_EVENT, subject=resource, aggregateversion=1, id=access_id,
            organizationid=organization_id or principal.organization_id, partitionkey=member_id or resource,
            time=at,
            data={
                "access_id": access_id,
                "action": action,
                "resource": resource,
                "member_id": member_id,
                "client_id": principal.client_id,
                "role": principal.role,
                "organization_id": principal.organization_id,
                "outcome": outcome,
                "accessed_at": at.isoformat(),
            },
        ),
    )
