"""Keeps the claim status read model in step with claims.events."""

from typing import Any

from aiokafka import ConsumerRecord
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CloudEvent
from infra.consumer import TransientError
from services.claims.status_view import project

READ_MODEL = "claim_status"


class ClaimStatusProjection:
    def __init__(self, db: AsyncDatabase, collection: str = READ_MODEL) -> None:
        self.views: AsyncCollection = db[collection]

    async def ensure_indexes(self) -> None:
        await self.views.create_index([("organization_id", ASCENDING), ("received_at", DESCENDING)])
        await self.views.create_index([("organization_id", ASCENDING), ("fingerprint", ASCENDING)])
        await self.views.create_index([("member_id", ASCENDING)])

    async def handle(self, event: CloudEvent, record: ConsumerRecord | None = None) -> None:
        if not event.type.startswith("claim."):
            return
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
