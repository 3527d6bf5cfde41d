"""The reviewers' queue and the list read model: one summary per authorization, from the topic.

Folded by the rules of infra/projection.py (one document per authorization at its stream's
version; every type of the stream is subscribed so versions have no gaps). The list is
ordered expedited first, then by decision due time; the sweeper reads the undecided past
due and the approved past their end from here, never scanning the event store.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts.envelope import CloudEvent
from contracts.events import authorizations as events
from infra.http.auth import Principal
from infra.http.problems import Problem
from infra.projection import VersionedProjection
from services.authorizations.domain import UNDECIDED

GROUP = "authorizations-queue"
_STATUS = {
    events.AUTHORIZATION_SUBMITTED: "submitted",
    events.AUTHORIZATION_IN_REVIEW: "in_review",
    events.AUTHORIZATION_INFO_REQUESTED: "info_requested",
    events.AUTHORIZATION_INFO_REQUEST_ANSWERED: "in_review",
    events.AUTHORIZATION_APPROVED: "approved",
    events.AUTHORIZATION_DENIED: "denied",
    events.AUTHORIZATION_CANCELLED: "cancelled",
    events.AUTHORIZATION_EXPIRED: "expired",
}


def instant(at: datetime | str) -> str:
    """One sortable spelling of an instant (UTC, microseconds, Z)."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def summarize(view: dict[str, Any] | None, event_type: str, data: dict[str, Any], version: int) -> dict | None:
    """Pure: the summary after one event; None when the event cannot start one."""
    if event_type == events.AUTHORIZATION_SUBMITTED:
        view = {
            "_id": data["authorization_id"], "organization_id": data["organization_id"],
            "member_id": data["member_id"], "urgency": data["urgency"],
            "urgency_rank": 0 if data["urgency"] == "expedited" else 1,
            "procedure_codes": list(data["procedure_codes"]), "requested_units": data["requested_units"],
            "start_date": data["start_date"], "end_date": data["end_date"],
            "submitted_at": instant(data["submitted_at"]), "decision_due_at": instant(data["decision_due_at"]),
            "overdue_marked": False,
        }
    elif view is None:
        return None
    else:
        view = dict(view)
    if event_type in _STATUS:
        view["status"] = _STATUS[event_type]
    if event_type == events.AUTHORIZATION_APPROVED:
        view.update(approved_units=data["approved_units"], end_date=data["end_date"], start_date=data["start_date"])
    if event_type == events.AUTHORIZATION_OVERDUE:
        view["overdue_marked"] = True
    view["version"] = version
    return view


class AuthorizationQueue(VersionedProjection):
    event_types = events.EVENT_TYPES

    def __init__(self, db: AsyncDatabase) -> None:
        super().__init__(db["authorization_queue"])

    async def ensure_indexes(self) -> None:
        await self.views.create_index([("status", ASCENDING), ("urgency_rank", ASCENDING),
                                       ("decision_due_at", ASCENDING)])

    def key(self, payload: BaseModel, event: CloudEvent) -> str:
        return event.subject or event.data["authorization_id"]

    def fold(self, current, payload, event: CloudEvent):
        return summarize(current, event.type, event.data, event.aggregateversion or 0)

    # ----------------------------------------------------------------- reads

    async def page(self, principal: Principal, *, status: str | None, overdue: bool | None, cursor: str | None,
                   limit: int, now: datetime | None = None) -> tuple[list[dict], str | None]:
        now_text = instant(now or datetime.now(UTC))
        query: dict[str, Any] = {}
        if principal.role == "provider":
            query["organization_id"] = principal.organization_id
        if status:
            query["status"] = status
        if overdue is True:
            if not status:
                query["status"] = {"$in": sorted(UNDECIDED)}
            query["decision_due_at"] = {"$lte": now_text}
        if overdue is False:
            query["$or"] = [{"status": {"$nin": sorted(UNDECIDED)}}, {"decision_due_at": {"$gt": now_text}}]
        if cursor:
            rank, due, last = _decode(cursor)
            after = {"$or": [{"urgency_rank": {"$gt": rank}},
                             {"urgency_rank": rank, "decision_due_at": {"$gt": due}},
                             {"urgency_rank": rank, "decision_due_at": due, "_id": {"$gt": last}}]}
            query = {"$and": [query, after]} if query else after
        found = self.views.find(query).sort([("urgency_rank", 1), ("decision_due_at", 1), ("_id", 1)]).limit(limit + 1)
        docs = [doc async for doc in found]
        page, more = docs[:limit], len(docs) > limit
        last_doc = page[-1] if page else None
        next_cursor = _encode(last_doc["urgency_rank"], last_doc["decision_due_at"], last_doc["_id"]) \
            if more and last_doc else None
        return page, next_cursor

    async def due_for_overdue(self, now: datetime, limit: int) -> list[str]:
        found = self.views.find({"status": {"$in": sorted(UNDECIDED)}, "overdue_marked": False,
                                 "decision_due_at": {"$lte": instant(now)}}).limit(limit)
        return [doc["_id"] async for doc in found]

    async def due_for_expiry(self, now: datetime, limit: int) -> list[str]:
        found = self.views.find({"status": "approved", "end_date": {"$lt": now.date().isoformat()}}).limit(limit)
        return [doc["_id"] async for doc in found]


def public_summary(doc: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    now_text = instant(now or datetime.now(UTC))
    return {
        "authorization_id": doc["_id"], "status": doc["status"], "member_id": doc["member_id"],
        "urgency": doc["urgency"], "procedure_codes": doc["procedure_codes"],
        "requested_units": doc["requested_units"], "approved_units": doc.get("approved_units"),
        "start_date": doc["start_date"], "end_date": doc["end_date"], "submitted_at": doc["submitted_at"],
        "decision_due_at": doc["decision_due_at"],
        "overdue": doc["status"] in UNDECIDED and doc["decision_due_at"] <= now_text,
    }


def _encode(rank: int, due: str, last: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([rank, due, last])).decode()


def _decode(cursor: str) -> tuple[int, str, str]:
    try:
        rank, due, last = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(rank, int) or not isinstance(due, str) or not isinstance(last, str):
            raise TypeError
    except (ValueError, TypeError):
        raise Problem(422, "The cursor is not one this API issued.", code="validation",
                      errors=[{"loc": "query.cursor", "code": "invalid_cursor", "message": "unknown cursor"}]) from None
    return rank, due, last

