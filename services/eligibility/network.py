"""Network contracts: which plans a provider organisation is contracted (in network) for.

Kept as data the operator maintains, cached briefly because every check reads it.
"""

import time
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase


class NetworkContracts:
    def __init__(self, db: AsyncDatabase, cache_seconds: float = 5.0) -> None:
        self.contracts = db["network_contracts"]
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def set_plans(self, organization_id: str, plan_ids: list[str]) -> dict:
        doc = {"_id": organization_id, "plan_ids": sorted(set(plan_ids)), "updated_at": datetime.now(UTC)}
        await self.contracts.replace_one({"_id": organization_id}, doc, upsert=True)
        self._cache.pop(organization_id, None)
        return doc

    async def get(self, organization_id: str) -> dict | None:
        return await self.contracts.find_one({"_id": organization_id})

    def cached(self, organization_id: str) -> frozenset[str] | None:
        """The contracted plans while the cached copy is fresh enough, else None."""
        hit = self._cache.get(organization_id)
        if hit and time.monotonic() - hit[0] < self.cache_seconds:
            return hit[1]
        return None

    async def contracted_plans(self, organization_id: str) -> frozenset[str]:
        cached = self.cached(organization_id)
        if cached is not None:
            return cached
        doc = await self.contracts.find_one({"_id": organization_id})
        plans = frozenset(doc["plan_ids"]) if doc else frozenset()
        self._cache[organization_id] = (time.monotonic(), plans)
        return plans
