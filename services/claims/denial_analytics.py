"""Denial analytics: the projection of claim decisions into day buckets, and its route.

Its own consumer group (claims-denial-analytics) on claims.events. Per claim a marker
holds the contribution last counted (infra/buckets.py): a new decision replaces it, a
void or replacement takes it back, a redelivery changes nothing. Reads answer from the
buckets only (never the claims event store).

Reads are not audited as patient-data access: the figures are counts and amounts per
organisation, CARC, procedure code and billing NPI, with no member id, name or claim id.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from contracts.envelope import CloudEvent
from contracts.events.claims import CLAIM_DENIED, CLAIM_PROCESSED, CLAIM_REPLACED, CLAIM_VOIDED
from infra.buckets import BucketStore, range_ids
from infra.http.auth import Principal, require_role
from infra.http.figures import date_range, scope
from infra.http.problems import problem_responses
from infra.projection import rebuild
from infra.settings import PlatformSettings
from infra.subscriptions import EventHandler, Subscriptions
from services.claims.domain.denials import DIMENSION, GroupBy, decision_contribution, figures

GROUP = "claims-denial-analytics"
MARKERS = "analytics_denial_claims"
BUCKETS = "analytics_denial_buckets"


class DenialAnalytics:
    def __init__(self, db: AsyncDatabase, prefix: str = "") -> None:
        self.store = BucketStore(db[prefix + MARKERS], db[prefix + BUCKETS])

    def subscriptions(self) -> dict[str, EventHandler]:
        return {CLAIM_PROCESSED: self.apply, CLAIM_DENIED: self.apply,
                CLAIM_VOIDED: self.apply, CLAIM_REPLACED: self.apply}

    async def apply(self, payload: BaseModel, event: CloudEvent) -> None:
        claim_id = payload.claim_id  # type: ignore[attr-defined]
        version = event.aggregateversion or 0
        marker = await self.store.marker(claim_id)
        if marker is not None and marker["version"] >= version:
            if "pending" in marker:
                await self.store.finish(marker)  # a crash left the buckets half done
            return
        if event.type in (CLAIM_PROCESSED, CLAIM_DENIED):
            contribution, state = decision_contribution(payload), {"status": "decided"}  # type: ignore[arg-type]
        else:
            contribution, state = {}, {"status": "closed"}  # its lines leave the figures
        await self.store.contribute(claim_id, version, marker, contribution, state)

    async def figures(self, organization_id: str, start: date, end: date, group_by: GroupBy) -> dict[str, Any]:
        buckets = await self.store.read(range_ids(organization_id, start, end, DIMENSION[group_by]))
        return figures(buckets, start, end, group_by)

    async def rebuild(self, settings: PlatformSettings) -> int:
        """Empties the buckets and markers and refolds claims.events from offset zero."""
        await self.store.clear()
        return await rebuild(settings, Subscriptions(self.subscriptions()))


router = APIRouter(tags=["analytics"])
Reader = Annotated[Principal, require_role("provider", "operator", "reviewer")]


async def get_denial_analytics(request: Request) -> DenialAnalytics:
    return request.app.state.denial_analytics


@router.get(
    "/v1/analytics/denials",
    summary="Denial figures: counts, denied amounts and denial rates for a date range",
    responses=problem_responses({401: "No valid bearer token.", 403: "Another organisation's figures.",
                                 422: "Bad parameters: `from` after `to`, unknown group_by, range over 400 days."}),
)
async def denials(
    principal: Reader,
    analytics: Annotated[DenialAnalytics, Depends(get_denial_analytics)],
    start: Annotated[date, Query(alias="from", description="First adjudication day (UTC), inclusive.")],
    end: Annotated[date, Query(alias="to", description="Last adjudication day (UTC), inclusive.")],
    group_by: GroupBy = "carc",
    organization_id: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    start, end = date_range(start, end)
    organization = scope(principal, organization_id)
    answer = await analytics.figures(organization, start, end, group_by)
    return {"from": start.isoformat(), "to": end.isoformat(), "group_by": group_by,
            "organization_id": None if organization == "*" else organization, **answer}
