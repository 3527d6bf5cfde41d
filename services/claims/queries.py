"""Claim reads: one claim by id, and the search, from the claim status read model."""

import base64
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from infra.http.auth import Principal
from infra.http.problems import Problem
from services.claims.repository import ClaimRepository
from services.claims.status_projection import ClaimStatusProjection
from services.claims.status_view import project


@dataclass(frozen=True)
class SearchFilters:
    status: str | None = None
    member_id: str | None = None
    received_from: date | None = None
    received_to: date | None = None
    cursor: str | None = None
    limit: int = 25


@dataclass(frozen=True)
class SearchPage:
    views: list[dict[str, Any]]
    next_cursor: str | None


class ClaimQueries:
    def __init__(self, repository: ClaimRepository, status: ClaimStatusProjection) -> None:
        self.repository = repository
        self.status = status

    async def get(self, claim_id: str) -> dict[str, Any] | None:
        """The claim's view, as of its latest stored event (read-your-writes).

        The read model is current when the stream has no event after the version it
        reflects: one point read of the view plus one of "version + 1". Only a lagging
        (or missing) view costs a fold of the stream, with the projection's own function.
        """
        view = await self.status.get(claim_id)
        if view is not None and not await self.repository.has_version(claim_id, view["version"] + 1):
            return view
        events = await self.repository.load_events(claim_id)
        if not events:
            return view
        folded = None
        for event in events:
            folded = project(folded, event["type"], event["data"], event["aggregateversion"]) or folded
        return folded

    async def search(self, principal: Principal, filters: SearchFilters) -> SearchPage:
        query: dict[str, Any] = {}
        if principal.role == "provider":
            query["organization_id"] = principal.organization_id
        if filters.status:
            query["status"] = filters.status
        if filters.member_id:
            query["member_id"] = filters.member_id
        received: dict[str, str] = {}
        if filters.received_from:
            received["$gte"] = filters.received_from.isoformat()
        if filters.received_to and filters.received_to < date.max:  # to=9999-12-31 bounds nothing
            received["$lt"] = date.fromordinal(filters.received_to.toordinal() + 1).isoformat()
        if received:
            query["received_at"] = received
        if filters.cursor:
            last_at, last_id = _decode_cursor(filters.cursor)
            query["$or"] = [{"received_at": {"$lt": last_at}}, {"received_at": last_at, "_id": {"$lt": last_id}}]
        cursor = self.status.views.find(query).sort([("received_at", -1), ("_id", -1)]).limit(filters.limit + 1)
        docs = [doc async for doc in cursor]
        page, more = docs[: filters.limit], len(docs) > filters.limit
        next_cursor = _encode_cursor(page[-1]["received_at"], page[-1]["_id"]) if more else None
        return SearchPage(page, next_cursor)


def _encode_cursor(received_at: str, claim_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([received_at, claim_id])).decode()


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        last_at, last_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(last_at, str) or not isinstance(last_id, str):
            raise TypeError
    except (ValueError, TypeError):
        raise Problem(422, "The cursor is not one this API issued.", code="validation",
                      errors=[{"loc": "query.cursor", "code": "invalid_cursor", "message": "unknown cursor"}]) from None
    return last_at, last_id
