"""Adjudication's own copy of member coverage, fed by membership.events.

A projection by the rules of infra/projection.py, like the claims service's copy:
one document per member, read by `_id` (the only filter FerretDB pushes down) and
replaced as a whole under the member stream version it reflects, so redelivered or
replayed events change nothing; a version gap (an event before it was parked on
membership.events.dlq) is resynchronised from the topic rather than waited for, so
one parked event never freezes a member's coverage. The fold itself is domain code
(domain/coverage.py).

The copy is a consumer of its own (group adjudication-members, through the
platform's consumer runner), not a second faust agent: payloads are validated
against their contracts, poison is parked and offsets are committed once the
document is written; and it can be rebuilt from offset zero without touching the
claims stream's offsets.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date

from pymongo.asynchronous.database import AsyncDatabase

from contracts import topics
from contracts.envelope import CloudEvent
from contracts.events.membership import MEMBERSHIP_EVENT_TYPES, MemberEvent
from contracts.identifiers import normalize_member_id
from infra.projection import VersionedProjection
from infra.settings import PlatformSettings
from services.adjudication.domain.coverage import CoveragePeriod, MemberCoverage, fold_membership_event

MEMBERS_GROUP = "adjudication-members"


class MemberCoverageCopy(VersionedProjection):
    event_types = MEMBERSHIP_EVENT_TYPES
    resync_topic = topics.MEMBERSHIP

    def __init__(
        self, db: AsyncDatabase, settings: PlatformSettings | None = None, *, lag_allowance_seconds: float = 3.0
    ) -> None:
        # Without settings (a reader only) a gap is waited for instead of resynchronised.
        super().__init__(db["member_coverage"], settings)
        self.lag_allowance_seconds = lag_allowance_seconds

    def key(self, payload: MemberEvent, event: CloudEvent) -> str:
        return normalize_member_id(payload.member_id)

    def fold(self, current: dict | None, payload: MemberEvent, event: CloudEvent) -> dict | None:
        member = fold_membership_event(
            None if current is None else _from_doc(current), event.type, payload.payload(),
            event.aggregateversion or 0, member_id=self.key(payload, event),
        )
        return None if member is None else _to_doc(member)

    async def find(self, member_id: str) -> MemberCoverage | None:
        doc = await self.get(normalize_member_id(member_id))
        return None if doc is None else _from_doc(doc)

    async def find_allowing_for_lag(self, member_id: str) -> MemberCoverage | None:
        """The member's coverage; for a member unknown to the copy, look again for a moment.

        The copy and the claims intake read membership.events independently, so a
        claim for a member enrolled seconds ago can overtake the enrollment here.
        A short bounded wait lets such a member be found; after it, unknown stays
        unknown (and is never paid). Known members cost one read, no wait.
        """
        deadline = time.monotonic() + self.lag_allowance_seconds
        pause = 0.05
        while True:
            found = await self.find(member_id)
            remaining = deadline - time.monotonic()
            if found is not None or remaining <= 0:
                return found
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, 1.0)


def _to_doc(member: MemberCoverage) -> dict:
    return {
        "_id": member.member_id,
        "date_of_birth": member.date_of_birth.isoformat(),
        "periods": [
            {"plan_id": p.plan_id, "start": p.start.isoformat(), "end": p.end.isoformat() if p.end else None}
            for p in member.periods
        ],
        "version": member.version,
        "family_id": member.family_id,
    }


def _from_doc(doc: dict) -> MemberCoverage:
    return MemberCoverage(
        member_id=doc["_id"],
        date_of_birth=date.fromisoformat(doc["date_of_birth"]),
        periods=tuple(
            CoveragePeriod(p["plan_id"], date.fromisoformat(p["start"]), date.fromisoformat(p["end"]) if p["end"] else None)
            for p in doc["periods"]
        ),
        version=doc["version"],
        family_id=doc.get("family_id"),
    )
