"""Adjudication's copy of prior authorizations, fed by authorizations.events.

One document per authorization (a projection by the rules of infra/projection.py,
under the authorization stream's version), plus one index document per member
listing their authorization ids, so that a decision finds a member's approvals with
point reads by `_id` (the only filter FerretDB v1 pushes down). The index is only
read for claims with a code the plan requires authorization for.

Approved and later expired authorizations stay usable for dates of service inside
their window (a claim often arrives after the window closed); denied and
cancelled ones never are.
"""

from __future__ import annotations

from datetime import date

from pymongo.asynchronous.database import AsyncDatabase

from contracts import topics
from contracts.envelope import CloudEvent
from contracts.events import authorizations as events
from contracts.identifiers import normalize_member_id
from infra.projection import VersionedProjection
from infra.settings import PlatformSettings
from services.adjudication.domain.authorization import Authorization

AUTHORIZATIONS_GROUP = "adjudication-authorizations"
USABLE = frozenset({"approved", "expired"})
_STATUS = {
    events.AUTHORIZATION_SUBMITTED: "submitted",
    events.AUTHORIZATION_IN_REVIEW: "in_review",
    events.AUTHORIZATION_INFO_REQUESTED: "info_requested",
    events.AUTHORIZATION_APPROVED: "approved",
    events.AUTHORIZATION_DENIED: "denied",
    events.AUTHORIZATION_CANCELLED: "cancelled",
    events.AUTHORIZATION_EXPIRED: "expired",
}


class AuthorizationCopy(VersionedProjection):
    # Every type of the stream, also those that change nothing here: a skipped type would
    # look like a gap in the versions and cost a resynchronisation from the topic.
    event_types = events.EVENT_TYPES
    resync_topic = topics.AUTHORIZATIONS

    def __init__(self, db: AsyncDatabase, settings: PlatformSettings | None = None) -> None:
        super().__init__(db["authorizations"], settings)
        self.by_member = db["member_authorizations"]

    def key(self, payload, event: CloudEvent) -> str:
        return payload.authorization_id

    def fold(self, current: dict | None, payload, event: CloudEvent) -> dict | None:
        view = dict(current) if current else {
            "_id": payload.authorization_id, "member_id": normalize_member_id(payload.member_id),
            "organization_id": payload.organization_id, "status": None,
        }
        if event.type == events.AUTHORIZATION_APPROVED:
            view.update(procedure_codes=sorted(payload.procedure_codes), approved_units=payload.approved_units,
                        start_date=payload.start_date.isoformat(), end_date=payload.end_date.isoformat())
        if event.type in _STATUS:
            view["status"] = _STATUS[event.type]
        view["version"] = event.aggregateversion or 0
        return view

    async def after_write(self, view: dict) -> None:
        # Idempotent: a set of ids per member.
        await self.by_member.update_one({"_id": view["member_id"]}, {"$addToSet": {"ids": view["_id"]}}, upsert=True)

    async def usable_for(self, member_id: str) -> tuple[Authorization, ...]:
        index = await self.by_member.find_one({"_id": normalize_member_id(member_id)})
        found = []
        for authorization_id in (index or {}).get("ids", []):
            view = await self.get(authorization_id)
            if view is None or view.get("status") not in USABLE or "procedure_codes" not in view:
                continue
            found.append(Authorization(
                authorization_id=view["_id"], member_id=view["member_id"], organization_id=view["organization_id"],
                procedure_codes=frozenset(view["procedure_codes"]), approved_units=view["approved_units"],
                start_date=date.fromisoformat(view["start_date"]), end_date=date.fromisoformat(view["end_date"]),
            ))
        return tuple(found)
