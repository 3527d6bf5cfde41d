"""Audit trail of every access to patient data.

An access record is a fact of its own, written with one insert into the service's
outbox for audit.events: it is durable as soon as the request that caused it is, and
it reaches the audit read side even if Kafka was down at the time.

    await record_access(store, principal, source=SOURCE, action="claim.read",
                        resource=f"claims/{claim_id}", member_id=member_id, outcome="processed")
    await record_accesses(store, principal, source=SOURCE, accesses=[dict(action=..., ...), ...])

What an auditor needs is who (client, role, organisation) saw which member's data
(member_id, resource naming the records shown) and what they were told (outcome). A
read that shows several members (a search page) records one access per member;
`record_accesses` writes them concurrently, so they share one insert round
(infra/batching.py).
"""

import asyncio
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from datetime import UTC, datetime

from contracts import topics
from contracts.envelope import new_event
from contracts.events.audit import PATIENT_DATA_ACCESSED, PatientDataAccessed
from infra.eventstore import EventStore
from infra.http.auth import Principal


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
    await store.record(
        topics.AUDIT,
        new_event(
            source=source, type=PATIENT_DATA_ACCESSED, subject=resource, id=access_id,
            organizationid=organization_id or principal.organization_id, partitionkey=member_id or resource,
            time=at,
            data=PatientDataAccessed(
                access_id=access_id, action=action, resource=resource, member_id=member_id,
                client_id=principal.client_id, role=principal.role, organization_id=principal.organization_id,
                outcome=outcome, accessed_at=at,
            ).model_dump(mode="json"),
        ),
    )


async def record_accesses(
    store: EventStore, principal: Principal, *, source: str, accesses: Iterable[Mapping[str, Any]]
) -> None:
    """Several accesses of one request (each a record_access's keyword arguments)."""
    at = datetime.now(UTC)
    await asyncio.gather(*(
        record_access(store, principal, source=source, at=at, **dict(access)) for access in accesses
    ))
