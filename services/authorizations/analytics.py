"""Authorization metrics: the projection of authorizations.events into day buckets, and its route.

Mounted by the authorizations service (its main.py, owned by that service):

    app = create_service_app(runtime, ..., [..., analytics.router])
    runtime.consumer(analytics.GROUP, analytics.AuthorizationMetrics(runtime.db).subscriptions())

The route finds its read model through the app's runtime (no app.state wiring). Per
authorization a marker holds its facts and the contribution last counted
(infra/buckets.py): events are folded into the facts, the contribution is recomputed
from them, and the buckets get the difference, once.

Reads are not audited as patient-data access: the figures are counts, shares and
durations per organisation and urgency, with no member id or authorization id.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from contracts.envelope import CloudEvent
from contracts.events import authorizations as contract
from infra.buckets import BucketStore, range_ids
from infra.http.auth import Principal, require_role
from infra.http.figures import date_range, scope
from infra.http.problems import problem_responses
from infra.projection import rebuild
from infra.settings import PlatformSettings
from infra.subscriptions import EventHandler, Subscriptions
from services.authorizations.domain.analytics import DIMENSION, contribution, figures

GROUP = "authorizations-analytics"
MARKERS = "analytics_authorization_markers"
BUCKETS = "analytics_authorization_buckets"


def _at(value: Any) -> str:
    return value.isoformat()


def fold(facts: dict[str, Any], payload: BaseModel, event_type: str) -> dict[str, Any]:
    """The facts after one event (pure). Fields added to the contract later are ignored."""
    p: Any = payload
    facts = {**facts, "organization_id": p.organization_id}
    if event_type == contract.AUTHORIZATION_SUBMITTED:
        facts.update(urgency=p.urgency, submitted_at=_at(p.submitted_at), decision_due_at=_at(p.decision_due_at))
    elif event_type == contract.AUTHORIZATION_INFO_REQUESTED:
        facts["info_requested"] = True
    elif event_type == contract.AUTHORIZATION_OVERDUE:
        facts.setdefault("overdue_at", _at(p.at))
    elif event_type == contract.AUTHORIZATION_APPROVED and "decision" not in facts:
        facts.setdefault("urgency", p.urgency)
        facts.update(decision="approved", decided_at=_at(p.approved_at))
    elif event_type == contract.AUTHORIZATION_DENIED and "decision" not in facts:
        facts.update(decision="denied", decided_at=_at(p.denied_at))
    return facts


class AuthorizationMetrics:
    event_types = (contract.AUTHORIZATION_SUBMITTED, contract.AUTHORIZATION_INFO_REQUESTED,
                   contract.AUTHORIZATION_OVERDUE, contract.AUTHORIZATION_APPROVED, contract.AUTHORIZATION_DENIED)

    def __init__(self, db: AsyncDatabase, prefix: str = "") -> None:
        self.store = BucketStore(db[prefix + MARKERS], db[prefix + BUCKETS])

    def subscriptions(self) -> dict[str, EventHandler]:
        return {event_type: self.apply for event_type in self.event_types}

    async def apply(self, payload: BaseModel, event: CloudEvent) -> None:
        authorization_id = payload.authorization_id  # type: ignore[attr-defined]
        version = event.aggregateversion or 0
        marker = await self.store.marker(authorization_id)
        if marker is not None and marker["version"] >= version:
            if "pending" in marker:
                await self.store.finish(marker)
            return
        facts = fold(marker["state"] if marker else {}, payload, event.type)
        await self.store.contribute(authorization_id, version, marker, contribution(facts), facts)

    async def figures(self, organization_id: str, start: date, end: date) -> list[dict[str, Any]]:
        return figures(await self.store.read(range_ids(organization_id, start, end, DIMENSION)), start, end)

    async def rebuild(self, settings: PlatformSettings) -> int:
        await self.store.clear()
        return await rebuild(settings, Subscriptions(self.subscriptions()))


router = APIRouter(tags=["analytics"])
Reader = Annotated[Principal, require_role("provider", "operator", "reviewer")]


@router.get(
    "/v1/analytics/authorizations",
    summary="Prior-authorization metrics per urgency for a date range",
    responses=problem_responses({401: "No valid bearer token.", 403: "Another organisation's figures.",
                                 422: "Bad parameters: `from` after `to`, range over 400 days."}),
)
async def authorization_metrics(
    request: Request,
    principal: Reader,
    start: Annotated[date, Query(alias="from", description="First day (UTC), inclusive: submissions, decisions and overdue marks on these days.")],
    end: Annotated[date, Query(alias="to", description="Last day (UTC), inclusive.")],
    organization_id: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    start, end = date_range(start, end)
    organization = scope(principal, organization_id)
    metrics = AuthorizationMetrics(request.app.state.runtime.db)
    return {"from": start.isoformat(), "to": end.isoformat(),
            "organization_id": None if organization == "*" else organization,
            "by_urgency": await metrics.figures(organization, start, end)}
