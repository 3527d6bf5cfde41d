"""Eligibility's read copy of the accumulators adjudication publishes.

One document per member and benefit year and, on a family policy, one per family
and benefit year, both in the `accumulators` collection (family keys carry a prefix
that no member id has). Each is written by its own compare-and-set, and each
dedupes by adjudication id, so an update whose second write was lost is completed
by its redelivery and never counted twice.
"""

import time
from collections import OrderedDict
from collections.abc import Callable

from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CloudEvent
from contracts import topics
from contracts.events.adjudication import ACCUMULATORS_APPLIED
from contracts.identifiers import normalize_member_id
from infra.consumer import TransientError
from services.eligibility.accumulator_cache import AccumulatorCache
from services.eligibility.domain import (
    Accumulators,
    AccumulatorUpdate,
    FamilyAccumulators,
    apply_accumulator_event,
    apply_family_accumulator_event,
)


RECENT_DOCUMENTS = 4096
"""Accumulator documents this consumer last wrote, decided on without a read."""


class AccumulatorCopy:
    def __init__(self, db: AsyncDatabase, cache: AccumulatorCache | None = None,
                 family_cache: AccumulatorCache | None = None) -> None:
        self.docs = db["accumulators"]
        self.cache = cache
        self.family_cache = family_cache
        self._written: OrderedDict[str, dict] = OrderedDict()

    @staticmethod
    def _id(member_id: str, year: int) -> str:
        return f"{normalize_member_id(member_id)}:{year}"

    @staticmethod
    def _family_key(family_id: str, year: int) -> str:
        return f"family:{normalize_member_id(family_id)}:{year}"

    def cached(self, member_id: str, year: int) -> tuple[bool, list[Accumulators]]:
        """(True, accumulators) when the in-memory copy may answer now; (False, []) otherwise."""
        return _cached(self.cache, self._id(member_id, year))

    def cached_family(self, family_id: str, year: int) -> tuple[bool, list[FamilyAccumulators]]:
        return _cached(self.family_cache, self._family_key(family_id, year))

    async def for_member_year(self, member_id: str, year: int) -> list[Accumulators]:
        hit, cached = self.cached(member_id, year)
        if hit:
            return cached
        return await self._load(self._id(member_id, year), Accumulators, self.cache)

    async def for_family_year(self, family_id: str, year: int) -> list[FamilyAccumulators]:
        hit, cached = self.cached_family(family_id, year)
        if hit:
            return cached
        return await self._load(self._family_key(family_id, year), FamilyAccumulators, self.family_cache)

    async def _load(self, key: str, model: type[BaseModel], cache: AccumulatorCache | None) -> list:
        loaded_at = time.monotonic()
        # A point read by _id: the only query FerretDB v1 does not answer with a scan.
        doc = await self.docs.find_one({"_id": key})
        totals = model.model_validate(doc) if doc else None
        if cache is not None:
            totals = cache.put(key, totals, loaded_at)
        return [totals] if totals else []

    def feed_handlers(self) -> dict:
        return {ACCUMULATORS_APPLIED: (topics.ADJUDICATION, self._on_feed_event)}

    def _on_feed_event(self, event: dict) -> None:
        update = _normalized(AccumulatorUpdate.model_validate(event["data"]))
        self.cache.on_update(self._id(update.member_id, update.plan_year), update)
        if update.family_id is not None and self.family_cache is not None:
            self.family_cache.on_update(self._family_key(update.family_id, update.plan_year), update)

    def subscriptions(self) -> dict:
        return {ACCUMULATORS_APPLIED: self.on_applied}

    async def on_applied(self, update: AccumulatorUpdate, event: CloudEvent) -> None:
        update = _normalized(update)
        await self._apply_once(self._id(update.member_id, update.plan_year), Accumulators,
                               apply_accumulator_event, update)
        if update.family_id is not None:
            await self._apply_once(self._family_key(update.family_id, update.plan_year), FamilyAccumulators,
                                   apply_family_accumulator_event, update)

    async def _apply_once(self, key: str, model: type[BaseModel], apply: Callable, update: AccumulatorUpdate) -> None:
        # Compare-and-set on the revision: one atomic write per event, and a concurrent
        # writer makes us reload instead of losing its update. The document this consumer
        # wrote last for the key is decided on without reading it back (a member's events
        # come to one consumer, in order); a stale one only loses the compare-and-set.
        for attempt in range(10):
            doc = self._written.get(key) if attempt == 0 else None
            if doc is None:
                doc = await self.docs.find_one({"_id": key})
            current = model.model_validate(doc) if doc else None
            updated = apply(current, update)
            if updated is current:
                return  # already applied: replay or redelivery
            body = {"_id": key, **updated.model_dump(mode="json"), "revision": (doc or {}).get("revision", 0) + 1}
            if doc is None:
                try:
                    await self.docs.insert_one(body)
                except DuplicateKeyError:
                    continue
                self._remember(key, body)
                return
            result = await self.docs.replace_one({"_id": key, "revision": doc.get("revision", 0)}, body)
            if result.matched_count == 1:
                self._remember(key, body)
                return
            self._written.pop(key, None)
        raise TransientError("accumulator document kept changing")

    def _remember(self, key: str, doc: dict) -> None:
        self._written[key] = doc
        self._written.move_to_end(key)
        while len(self._written) > RECENT_DOCUMENTS:
            self._written.popitem(last=False)


def _cached(cache: AccumulatorCache | None, key: str) -> tuple[bool, list]:
    if cache is None:
        return False, []
    hit, cached = cache.get(key)
    return hit, [cached] if cached else []


def _normalized(update: AccumulatorUpdate) -> AccumulatorUpdate:
    # Adjudication echoes the ids it was given; this copy is keyed by the normalised ones.
    member_id = normalize_member_id(update.member_id)
    family_id = normalize_member_id(update.family_id) if update.family_id is not None else None
    if (member_id, family_id) == (update.member_id, update.family_id):
        return update
    return update.model_copy(update={"member_id": member_id, "family_id": family_id})
