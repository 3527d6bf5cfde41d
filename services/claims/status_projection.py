"""Keeps the claim status read model in step with claims.events (infra/projection.py rules)."""

from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from pydantic import BaseModel

from contracts.envelope import CloudEvent
from contracts.events.claims import EVENT_TYPES as CLAIM_EVENT_TYPES
from infra.projection import NotFoldable, VersionedProjection
from services.claims.status_view import project

READ_MODEL = "claim_status"
CLOSED = ("voided", "replaced", "denied")


class ClaimStatusProjection(VersionedProjection):
    event_types = CLAIM_EVENT_TYPES

    def __init__(
        self, db: AsyncDatabase, collection: str = READ_MODEL,
        history: Callable[[str], Awaitable[list[dict[str, Any]]]] | None = None,
    ) -> None:
        super().__init__(db[collection])
        self.history = history
        """The claim's stored events (the claims event store): the record a view can be refolded from."""
        # Open claims by (organisation, fingerprint): the duplicate-claim edit reads it by
        # _id, the only lookup FerretDB v1 answers without scanning the collection.
        self.fingerprints: AsyncCollection = db[f"{collection}_fingerprints"]

    async def ensure_indexes(self) -> None:
        await self.views.create_index([("organization_id", ASCENDING), ("received_at", DESCENDING)])
        await self.views.create_index([("organization_id", ASCENDING), ("fingerprint", ASCENDING)])
        await self.views.create_index([("member_id", ASCENDING)])

    async def clear(self) -> None:
        await super().clear()
        await self.fingerprints.delete_many({})

    def key(self, payload: BaseModel, event: CloudEvent) -> str:
        return event.subject or event.data["claim_id"]

    def follows(self, current: dict[str, Any] | None, event: CloudEvent) -> bool:
        # A claim's events share its member's partition, so they arrive in order; the
        # fold itself refuses what cannot be applied (an event before claim.received).
        return True

    async def evolve(self, current: dict[str, Any] | None, payload: BaseModel, event: CloudEvent) -> dict | None:
        try:
            return project(current, event.type, event.data, event.aggregateversion or 0)
        except ValueError as exc:
            if current is not None or self.history is None:
                raise NotFoldable(str(exc)) from exc
        # No view although the claim has later events: its claim.received never reached
        # this consumer (parked on the dead-letter topic). The claim's own stream in this
        # service's event store is the record: fold the view from it, up to this event.
        view = None
        for stored in await self.history(self.key(payload, event)):
            if stored["aggregateversion"] > (event.aggregateversion or 0):
                break
            view = project(view, stored["type"], stored["data"], stored["aggregateversion"]) or view
        if view is None:
            raise NotFoldable(f"{event.type} for a claim this service has no record of")
        return view

    async def after_write(self, view: dict[str, Any]) -> None:
        """Keeps the duplicate-claim index: written only when a claim opens or closes.

        A claim opens with claim.received (version 1): one insert, unless another
        claim's entry is there. It closes when denied, voided or replaced: one
        replace, guarded by the claim id so another open claim's entry is never
        released. Everything in between (processed, paid, info requested) changes
        nothing the edit reads, and costs nothing.
        """
        key = self.fingerprint_key(view["organization_id"], view["fingerprint"])
        entry = {"_id": key, "claim_id": view["claim_id"], "status": view["status"]}
        if view["status"] in CLOSED:
            await self.fingerprints.replace_one({"_id": key, "claim_id": view["claim_id"]}, entry)
            return
        if view.get("version") != 1:
            return
        try:
            await self.fingerprints.insert_one(entry)
        except DuplicateKeyError:
            held = await self.fingerprints.find_one({"_id": key})
            if held and held["claim_id"] != view["claim_id"] and held["status"] not in CLOSED:
                return  # another open claim already holds this fingerprint
            await self.fingerprints.replace_one({"_id": key}, entry, upsert=True)

    @staticmethod
    def fingerprint_key(organization_id: str, fingerprint: str) -> str:
        return f"{organization_id}:{fingerprint}"

    async def open_claim_with(self, organization_id: str, fingerprint: str) -> str | None:
        entry = await self.fingerprints.find_one({"_id": self.fingerprint_key(organization_id, fingerprint)})
        return entry["claim_id"] if entry and entry["status"] not in CLOSED else None
