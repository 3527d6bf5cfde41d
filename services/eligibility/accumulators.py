"""Eligibility's read copy of the accumulators adjudication publishes."""

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CloudEvent
from contracts.events.adjudication import ACCUMULATORS_APPLIED
from infra.consumer import TransientError
from services.eligibility.domain import Accumulators, AccumulatorUpdate, apply_accumulator_event


class AccumulatorCopy:
    def __init__(self, db: AsyncDatabase) -> None:
        self.docs = db["accumulators"]

    @staticmethod
    def _id(member_id: str, year: int) -> str:
        return f"{member_id}:{year}"

    async def for_member_year(self, member_id: str, year: int) -> list[Accumulators]:
        # A point read by _id: the only query FerretDB v1 does not answer with a scan.
        doc = await self.docs.find_one({"_id": self._id(member_id, year)})
        return [Accumulators.model_validate(doc)] if doc else []

    def subscriptions(self) -> dict:
        return {ACCUMULATORS_APPLIED: self.on_applied}

    async def on_applied(self, update: AccumulatorUpdate, event: CloudEvent) -> None:
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
