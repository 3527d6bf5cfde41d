"""Eligibility's read copy of the accumulators adjudication publishes."""

import time

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CloudEvent
from contracts import topics
from contracts.events.adjudication import ACCUMULATORS_APPLIED
from contracts.identifiers import normalize_member_id
from infra.consumer import TransientError
from services.eligibility.accumulator_cache import AccumulatorCache
from services.eligibility.domain import Accumulators, AccumulatorUpdate, apply_accumulator_event


class AccumulatorCopy:
    def __init__(self, db: AsyncDatabase, cache: AccumulatorCache | None = None) -> None:
        self.docs = db["accumulators"]
        self.cache = cache

    @staticmethod
    def _id(member_id: str, year: int) -> str:
        return f"{normalize_member_id(member_id)}:{year}"

    def cached(self, member_id: str, year: int) -> tuple[bool, list[Accumulators]]:
        """(True, accumulators) when the in-memory copy may answer now; (False, []) otherwise."""
        if self.cache is None:
            return False, []
        hit, cached = self.cache.get(self._id(member_id, year))
        return hit, [cached] if cached else []

    async def for_member_year(self, member_id: str, year: int) -> list[Accumulators]:
        hit, cached = self.cached(member_id, year)
        if hit:
            return cached
        key = self._id(member_id, year)
        loaded_at = time.monotonic()
        # A point read by _id: the only query FerretDB v1 does not answer with a scan.
        doc = await self.docs.find_one({"_id": key})
        accumulators = Accumulators.model_validate(doc) if doc else None
        if self.cache is not None:
            accumulators = self.cache.put(key, accumulators, loaded_at)
        return [accumulators] if accumulators else []

    def feed_handlers(self) -> dict:
        return {ACCUMULATORS_APPLIED: (topics.ADJUDICATION, self._on_feed_event)}

    def _on_feed_event(self, event: dict) -> None:
        update = _normalized(AccumulatorUpdate.model_validate(event["data"]))
        self.cache.on_update(self._id(update.member_id, update.plan_year), update)

    def subscriptions(self) -> dict:
        return {ACCUMULATORS_APPLIED: self.on_applied}

    async def on_applied(self, update: AccumulatorUpdate, event: CloudEvent) -> None:
        update = _normalized(update)
        key = self._id(update.member_id, update.plan_year)
        # Compare-and-set on the applied-id count: one atomic write per event, and a
        # concurrent writer makes us reload instead of losing its update.
        for _ in range(10):
            doc = await self.docs.find_one({"_id": key})
            current = Accumulators.model_validate(doc) if doc else None
            updated = apply_accumulator_event(current, update)
            if updated is current:
                return  # already applied: replay or redelivery
            body = updated.model_dump(mode="json")
            body["revision"] = (doc or {}).get("revision", 0) + 1
            if doc is None:
                try:
                    await self.docs.insert_one({"_id": key, **body})
                    return
                except DuplicateKeyError:
                    continue
            result = await self.docs.replace_one({"_id": key, "revision": doc.get("revision", 0)}, {"_id": key, **body})
            if result.modified_count == 1:
                return
        raise TransientError("accumulator document kept changing")


def _normalized(update: AccumulatorUpdate) -> AccumulatorUpdate:
    # Adjudication echoes the member id it was given; this copy is keyed by the normalised one.
    member_id = normalize_member_id(update.member_id)
    return update if member_id == update.member_id else update.model_copy(update={"member_id": member_id})
