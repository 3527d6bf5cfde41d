"""The claims service's copy of enrollment: what the intake edits need about a member.

Built from membership.events. One document per member, replaced as a whole under the
stream version it reflects, so redelivered or replayed events change nothing.
"""

from datetime import date

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CloudEvent
from contracts.events.membership import MEMBERSHIP_EVENT_TYPES, MemberEvent
from infra.consumer import TransientError
from services.claims.domain import CoveragePeriod, MemberFacts


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


class MemberCopy:
    def __init__(self, db: AsyncDatabase) -> None:
        self.docs = db["members"]

    async def facts(self, member_id: str) -> MemberFacts | None:
        doc = await self.docs.find_one({"_id": member_id})
        if doc is None:
            return None
        return MemberFacts(
            member_id=member_id,
            date_of_birth=date.fromisoformat(doc["date_of_birth"]),
            coverage=tuple(
                CoveragePeriod(date.fromisoformat(s["start"]), date.fromisoformat(s["end"]) if s.get("end") else None)
                for s in doc["segments"]
            ),
        )

    def subscriptions(self) -> dict:
        return {event_type: self.apply for event_type in MEMBERSHIP_EVENT_TYPES}

    async def apply(self, payload: MemberEvent, event: CloudEvent) -> None:
        member_id = event.data["member_id"]
        version = event.aggregateversion or 0
        doc = await self.docs.find_one({"_id": member_id})
        if doc is not None and doc["version"] >= version:
            return  # already reflected
        if doc is None and event.type != "member.enrolled":
            raise TransientError("membership event before the member's enrollment")
        if doc is not None and doc["version"] != version - 1:
            raise TransientError("membership events out of order")
        new = {
            "_id": member_id,
            "date_of_birth": (doc or event.data)["date_of_birth"],
            "segments": next_segments(doc["segments"] if doc else [], event.type, event.data),
            "version": version,
        }
        if doc is None:
            try:
                await self.docs.insert_one(new)
            except DuplicateKeyError:
                pass
        else:
            await self.docs.replace_one({"_id": member_id, "version": doc["version"]}, new)
