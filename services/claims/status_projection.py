"""Keeps the claim status read model in step with claims.events."""

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CloudEvent
from contracts.events.claims import EVENT_TYPES as CLAIM_EVENT_TYPES
from contracts.events.claims import Payload
from infra.consumer import TransientError
from services.claims.status_view import project

READ_MODEL = "claim_status"
CLOSED = ("voided", "replaced", "denied")


class ClaimStatusProjection:
    def __init__(self, db: AsyncDatabase, collection: str = READ_MODEL) -> None:
        self.views: AsyncCollection = db[collection]
        # Open claims by (organisation, fingerprint): the duplicate-claim edit reads it by
        # _id, the only lookup FerretDB v1 answers without scanning the collection.
        self.fingerprints: AsyncCollection = db[f"{collection}_fingerprints"]

    async def ensure_indexes(self) -> None:
        await self.views.create_index([("organization_id", ASCENDING), ("received_at", DESCENDING)])
        await self.views.create_index([("organization_id", ASCENDING), ("fingerprint", ASCENDING)])
        await self.views.create_index([("member_id", ASCENDING)])

    def subscriptions(self) -> dict:
        return {event_type: self.apply for event_type in CLAIM_EVENT_TYPES}

    async def apply(self, payload: Payload, event: CloudEvent) -> None:
        claim_id = event.subject or event.data["claim_id"]
        current = await self.views.find_one({"_id": claim_id})
        try:
            view = project(current, event.type, event.data, event.aggregateversion or 0)
        except ValueError as exc:
            # A later event overtook claim.received (they share a partition, so only
            # through a redelivery race): let the retry find the view.
            raise TransientError(str(exc)) from exc
        if view is None:
            return
        await self._write(current, view)
        await self._index_fingerprint(view)

    @staticmethod
    def fingerprint_key(organization_id: str, fingerprint: str) -> str:
        return f"{organization_id}:{fingerprint}"

    async def _index_fingerprint(self, view: dict[str, Any]) -> None:
        key = self.fingerprint_key(view["organization_id"], view["fingerprint"])
        entry = await self.fingerprints.find_one({"_id": key})
        if entry and entry["claim_id"] != view["claim_id"] and entry["status"] not in CLOSED:
            return  # another open claim already holds this fingerprint
        await self.fingerprints.replace_one(
            {"_id": key}, {"_id": key, "claim_id": view["claim_id"], "status": view["status"]}, upsert=True
        )

    async def open_claim_with(self, organization_id: str, fingerprint: str) -> str | None:
        entry = await self.fingerprints.find_one({"_id": self.fingerprint_key(organization_id, fingerprint)})
        return entry["claim_id"] if entry and entry["status"] not in CLOSED else None

    async def _write(self, current: dict[str, Any] | None, view: dict[str, Any]) -> None:
        # The view and the version it reflects change together in one write, and only
        # from the version we read: a concurrent writer cannot be overwritten.
        if current is None:
            try:
                await self.views.insert_one(view)
            except DuplicateKeyError:
                raise TransientError("claim view created concurrently") from None
            return
        result = await self.views.replace_one({"_id": view["_id"], "version": current["version"]}, view)
        if result.matched_count == 0:
            raise TransientError("claim view changed concurrently")

    async def get(self, claim_id: str) -> dict[str, Any] | None:
        return await self.views.find_one({"_id": claim_id})
