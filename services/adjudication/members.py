"""Adjudication's own copy of member coverage, fed by membership.events.

One document per member, read by `_id` (the only filter FerretDB pushes down) and
replaced as a whole under the member stream version it reflects, so redelivered or
replayed events change nothing. The fold itself is domain code (domain/coverage.py).

The copy is a consumer of its own (group adjudication-members, through the
platform's consumer runner), not a second faust agent: it is a projection like every
other service's, with payloads validated against their contracts, poison parked on
membership.events.dlq and offsets committed once the document is written; and it
can be rebuilt from offset zero without touching the claims stream's offsets.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CloudEvent
from contracts.events.membership import MEMBERSHIP_EVENT_TYPES, MemberEvent
from contracts.identifiers import normalize_member_id
from infra.consumer import TransientError
from services.adjudication.domain.coverage import (
    CoveragePeriod,
    MemberCoverage,
    MembershipOutOfOrder,
    apply_membership_event,
)

MEMBERS_GROUP = "adjudication-members"


class MemberCoverageCopy:
    def __init__(self, db: AsyncDatabase, *, lag_allowance_seconds: float = 3.0) -> None:
        self.docs = db["member_coverage"]
        self.lag_allowance_seconds = lag_allowance_seconds

    def subscriptions(self) -> dict:
        return {event_type: self.apply for event_type in MEMBERSHIP_EVENT_TYPES}

    async def find(self, member_id: str) -> MemberCoverage | None:
        doc = await self.docs.find_one({"_id": normalize_member_id(member_id)})
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

    async def apply(self, payload: MemberEvent, event: CloudEvent) -> None:
        member_id = normalize_member_id(payload.member_id)
        version = event.aggregateversion or 0
        doc = await self.docs.find_one({"_id": member_id})
        current = None if doc is None else _from_doc(doc)
        try:
            new = apply_membership_event(current, event.type, payload.payload(), version, member_id=member_id)
        except MembershipOutOfOrder as exc:
            raise TransientError(str(exc)) from exc
        if new is None:
            return  # already reflected
        if current is None:
            try:
                await self.docs.insert_one(_to_doc(new))
            except DuplicateKeyError as exc:
                raise TransientError("member copy written concurrently") from exc
            return
        result = await self.docs.replace_one({"_id": member_id, "version": current.version}, _to_doc(new))
        if result.matched_count == 0:
            raise TransientError("member copy written concurrently")


def _to_doc(member: MemberCoverage) -> dict:
    return {
        "_id": member.member_id,
        "date_of_birth": member.date_of_birth.isoformat(),
        "periods": [
            {"plan_id": p.plan_id, "start": p.start.isoformat(), "end": p.end.isoformat() if p.end else None}
            for p in member.periods
        ],
        "version": member.version,
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
    )
