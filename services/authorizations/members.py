"""The authorizations service's copy of enrollment: birth date and coverage periods with their plans.

From membership.events by the rules of infra/projection.py (one document per member at
the member stream's version; a gap refolds the member from the topic).
"""

from datetime import date

from pymongo.asynchronous.database import AsyncDatabase

from contracts import topics
from contracts.envelope import CloudEvent
from contracts.events.membership import MEMBERSHIP_EVENT_TYPES, MemberEvent
from contracts.identifiers import normalize_member_id
from infra.projection import VersionedProjection
from infra.settings import PlatformSettings
from services.authorizations.domain.request import CoveragePeriod, MemberFacts


def next_periods(periods: list[dict], event_type: str, data: dict) -> list[dict]:
    periods = [dict(p) for p in periods]
    if event_type in ("member.enrolled", "member.reenrolled"):
        periods.append({"start": data["coverage_start"], "end": data.get("coverage_end"), "plan_id": data["plan_id"]})
    elif event_type == "member.coverage_terminated":
        for period in periods:
            if period["start"] == data["coverage_start"]:
                period["end"] = data["coverage_end"]
    elif event_type == "member.plan_changed":
        current = periods[-1] if periods else None
        if current is not None:
            if data.get("previous_coverage_end") is None:
                periods.pop()
            else:
                current["end"] = data["previous_coverage_end"]
        periods.append({"start": data["effective_date"], "end": data.get("coverage_end"),
                        "plan_id": data["plan_id"]})
    return periods


def fold_member(doc: dict | None, event_type: str, data: dict, version: int) -> dict | None:
    if doc is None and event_type != "member.enrolled":
        return None
    return {
        "_id": normalize_member_id(data["member_id"]),
        "date_of_birth": (doc or data)["date_of_birth"],
        "periods": next_periods(doc["periods"] if doc else [], event_type, data),
        "version": version,
    }


class MemberCopy(VersionedProjection):
    event_types = MEMBERSHIP_EVENT_TYPES
    resync_topic = topics.MEMBERSHIP

    def __init__(self, db: AsyncDatabase, settings: PlatformSettings | None = None) -> None:
        super().__init__(db["members"], settings)

    async def facts(self, member_id: str) -> MemberFacts | None:
        doc = await self.get(normalize_member_id(member_id))
        if doc is None:
            return None
        return MemberFacts(
            member_id=doc["_id"], date_of_birth=date.fromisoformat(doc["date_of_birth"]),
            coverage=tuple(CoveragePeriod(date.fromisoformat(p["start"]),
                                          date.fromisoformat(p["end"]) if p.get("end") else None, p["plan_id"])
                           for p in doc["periods"]),
        )

    def key(self, payload: MemberEvent, event: CloudEvent) -> str:
        return normalize_member_id(payload.member_id)

    def fold(self, current: dict | None, payload: MemberEvent, event: CloudEvent) -> dict | None:
        return fold_member(current, event.type, event.data, event.aggregateversion or 0)
