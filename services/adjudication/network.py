"""Adjudication's copy of network contracts, fed by network.events (eligibility owns them).

One document per organisation with the plans it is in network for, under the
contract stream version it reflects (a projection by the rules of infra/projection.py).
Decisions read it through a short in-memory cache: contracts change rarely and every
claim asks, and a contract change reaches decisions within `cache_seconds`.
"""

from __future__ import annotations

import asyncio
import time

from pymongo.asynchronous.database import AsyncDatabase

from contracts import topics
from contracts.envelope import CloudEvent
from contracts.events.network import NETWORK_CONTRACT_UPDATED, NetworkContractUpdated
from infra.projection import VersionedProjection
from infra.settings import PlatformSettings

NETWORK_GROUP = "adjudication-network"


class NetworkCopy(VersionedProjection):
    event_types = (NETWORK_CONTRACT_UPDATED,)
    resync_topic = topics.NETWORK

    def __init__(self, db: AsyncDatabase, settings: PlatformSettings | None = None, *, cache_seconds: float = 5.0,
                 lag_allowance_seconds: float = 3.0) -> None:
        super().__init__(db["network_contracts"], settings)
        self.cache_seconds = cache_seconds
        self.lag_allowance_seconds = lag_allowance_seconds
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._waited: set[str] = set()

    def key(self, payload: NetworkContractUpdated, event: CloudEvent) -> str:
        return payload.organization_id

    def fold(self, current: dict | None, payload: NetworkContractUpdated, event: CloudEvent) -> dict:
        # Each event carries the whole contract: the latest one is the state.
        return {"_id": payload.organization_id, "plan_ids": sorted(set(payload.plan_ids)),
                "version": event.aggregateversion or 0}

    async def after_write(self, view: dict) -> None:
        self._cache[view["_id"]] = (time.monotonic(), frozenset(view["plan_ids"]))

    async def contracted_plans(self, organization_id: str) -> frozenset[str]:
        """The plans the organisation is in network for.

        An organisation the copy has never heard of is looked for again for a moment
        (its contract may be seconds old and still on its way, like a new member's
        enrollment); after that it is out of network, and that answer is cached like
        any other, so its later claims do not wait.
        """
        hit = self._cache.get(organization_id)
        if hit is not None and time.monotonic() - hit[0] < self.cache_seconds:
            return hit[1]
        # Only the first look waits: an organisation that stays unknown is out of network.
        allowance = 0.0 if organization_id in self._waited else self.lag_allowance_seconds
        self._waited.add(organization_id)
        deadline = time.monotonic() + allowance
        pause = 0.05
        while True:
            doc = await self.get(organization_id)
            if doc is not None or time.monotonic() >= deadline:
                break
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)
        plans = frozenset(doc["plan_ids"]) if doc else frozenset()
        self._cache[organization_id] = (time.monotonic(), plans)
        return plans
