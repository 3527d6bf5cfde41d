"""The claims service's copy of enrollment: what the intake edits need about a member.

Built from membership.events by the rules of infra/projection.py: one document per
member carrying the member stream's version it reflects, replaced as a whole in one
compare-and-set write, so redelivered or replayed events change nothing.

A gap (the event does not follow the copy's version: an event before it was parked
on the dead-letter topic, or was never published) does not freeze the copy: the base
refolds the member from membership.events with the same fold (resync_topic) and
marks the copy resynchronised.
"""

from datetime import date

from pymongo.asynchronous.database import AsyncDatabase

from contracts import topics
from contracts.envelope import CloudEvent
from contracts.events.membership import MEMBERSHIP_EVENT_TYPES, MemberEvent
from contracts.identifiers import normalize_member_id
from infra.projection import VersionedProjection
from infra.settings import PlatformSettings
from services.claims.domain import CoveragePeriod, MemberFacts

ENROLLED = "member.enrolled"


def next_segments(segments: list[dict], event_type: str, data: dict) -> list[dict]:
    """Coverage segments after one membership event (dates as ISO strings)."""
    segments = [dict(s) for s in segments]
    if event_type == "member.enrolled" or event_type == "member.reenrolled":
        segments.append({"start": data["coverage_start"], "end": data.get("coverage_end")})
    elif event_type == "member.coverage_terminated":
        for segment in segments:
            if segment["start"] == data["coverage_start"]:
                segment["end"] = data["coverage_end"]
    elif event_type == "member.plan_changed":
        current = segments[-1] if segments else None
        if current is not None:
            if data.get("previous_coverage_end") is None:
                segments.pop()
            else:
                current["end"] = data["previous_coverage_end"]
        segments.append({"start": data["effective_date"], "end": data.get("coverage_end")})
    return segments


def fold_member(doc: dict | None, event_type: str, data: dict, version: int) -> dict | None:
    """The copy after one event; None when it cannot start from this event (no enrollment yet)."""
    if doc is None and event_type != ENROLLED:
        return None
    member_id = normalize_member_id(data["member_id"])
    return {
        "_id": member_id,
        "date_of_birth": (doc or data)["date_of_birth"],
        "segments": next_segments(doc["segments"] if doc else [], event_type, data),
        "version": version,
    }


class MemberCopy(VersionedProjection):
    event_types = MEMBERSHIP_EVENT_TYPES
    resync_topic = topics.MEMBERSHIP

    def __init__(self, db: AsyncDatabase, settings: PlatformSettings | None = None) -> None:
        # Without settings (a reader only, as in tests) a gap is waited for instead.
        super().__init__(db["members"], settings)

    async def facts(self, member_id: str) -> MemberFacts | None:
        """One point read by _id, whether or not the member exists (equal work either way)."""
        doc = await self.get(normalize_member_id(member_id))
        if doc is None:
            return None
        return MemberFacts(
            member_id=doc["_id"],
            date_of_birth=date.fromisoformat(doc["date_of_birth"]),
            coverage=tuple(
                CoveragePeriod(date.fromisoformat(s["start"]), date.fromisoformat(s["end"]) if s.get("end") else None)
                for s in doc["segments"]
            ),
        )

    def key(self, payload: MemberEvent, event: CloudEvent) -> str:
        return normalize_member_id(payload.member_id)

    def fold(self, current: dict | None, payload: MemberEvent, event: CloudEvent) -> dict | None:
        return fold_member(current, event.type, event.data, event.aggregateversion or 0)
