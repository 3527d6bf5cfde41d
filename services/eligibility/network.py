"""Network contracts as events: each change is appended to the organisation's stream.

The stored event is the outbox record, so the relay publishes network_contract.updated
on network.events (keyed by organisation id) for adjudication's copy; nothing here
writes Kafka directly.

Reads never fold the stream: every organisation has a snapshot document (its `_id`
is the organisation id: the one query FerretDB pushes down) written after each
append. A writer that dies between its append and its snapshot leaves the snapshot
one version behind, so a read checks that the snapshot's next version does not
exist (one more point read) and refolds the stream only when it does. Checks read
through a short cache on top; the live feed moves cached entries on as soon as a
change is published, whichever replica made it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from contracts import topics
from contracts.events.network import NETWORK_CONTRACT_UPDATED, NetworkContractUpdated
from infra.aggregates import AggregateRepository, Envelope, Loaded, Recorded
from infra.eventstore import ConcurrencyError, EventStore
from infra.projection import compare_and_set
from services.eligibility.domain.network import NetworkContract, apply_contract, contract_change

SOURCE = "/services/eligibility"
STREAM_PREFIX = "network_contract"
SNAPSHOT_WRITE_ATTEMPTS = 5


@dataclass(frozen=True)
class _Change:
    type: str
    data: dict


def _fold(_state: NetworkContract | None, _organization_id: str, event: Recorded) -> NetworkContract:
    return apply_contract(NetworkContractUpdated.model_validate(event.data), event.version)


def _changes(events: list[NetworkContractUpdated]) -> list[_Change]:
    return [_Change(NETWORK_CONTRACT_UPDATED, e.model_dump(mode="json")) for e in events]


class NetworkContracts:
    def __init__(self, store: EventStore, db: AsyncDatabase, cache_seconds: float = 5.0) -> None:
        self.snapshots = db["network_contracts"]
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, NetworkContract | None]] = {}
        self.streams = AggregateRepository(
            store, topic=topics.NETWORK, source=SOURCE, stream_prefix=STREAM_PREFIX, fold=_fold,
            envelope_of=lambda c: Envelope(organization_id=c.organization_id, partition_key=c.organization_id),
        )

    async def set_plans(self, organization_id: str, plan_ids: list[str]) -> NetworkContract:
        """Makes the contract exactly `plan_ids`; the same contract again appends nothing."""
        current = await self.get(organization_id)
        now = datetime.now(UTC)
        outcome = await self.streams.execute(
            organization_id, lambda state: _changes(contract_change(state, organization_id, plan_ids, now)),
            current=Loaded(current, current.version) if current else None,
        )
        contract = outcome.state
        assert contract is not None  # a decision on no contract always states one
        if outcome.appended:
            await self._save(contract)
        self._remember(organization_id, contract)
        return contract

    async def get(self, organization_id: str) -> NetworkContract | None:
        """The current contract, read from its snapshot (None: never stated)."""
        doc = await self.snapshots.find_one({"_id": organization_id})
        version = doc.get("version", 0) if doc else 0
        if not await self.streams.has_version(organization_id, version + 1):
            contract = _from_snapshot(doc) if version else None
        else:
            loaded = await self.streams.load(organization_id)
            contract = loaded.state if loaded else None
            if contract is not None:
                await self._save(contract)  # repairs what a writer that died left behind
        self._remember(organization_id, contract)
        return contract

    def cached(self, organization_id: str) -> frozenset[str] | None:
        """The contracted plans while the cached copy is fresh enough, else None."""
        hit = self._cache.get(organization_id)
        if hit and time.monotonic() - hit[0] < self.cache_seconds:
            return frozenset(hit[1].plan_ids) if hit[1] else frozenset()
        return None

    async def contracted_plans(self, organization_id: str) -> frozenset[str]:
        cached = self.cached(organization_id)
        if cached is not None:
            return cached
        contract = await self.get(organization_id)
        return frozenset(contract.plan_ids) if contract else frozenset()

    def feed_handlers(self) -> dict:
        return {NETWORK_CONTRACT_UPDATED: (topics.NETWORK, self._on_feed_event)}

    def _on_feed_event(self, event: dict) -> None:
        contract = apply_contract(NetworkContractUpdated.model_validate(event["data"]), int(event["aggregateversion"]))
        hit = self._cache.get(contract.organization_id)
        if hit is not None and (hit[1] is None or hit[1].version < contract.version):
            self._cache[contract.organization_id] = (hit[0], contract)

    async def adopt_unversioned(self) -> int:
        """Contracts stored before they were events become the first event of their stream.

        Run at start-up; the scan is of one small collection (one document per
        organisation) and finds nothing once every contract has been adopted.
        """
        adopted = 0
        async for doc in self.snapshots.find({"version": {"$exists": False}}):
            organization_id = doc["_id"]
            events = contract_change(None, organization_id, doc.get("plan_ids", []),
                                     _aware(doc.get("updated_at") or datetime.now(UTC)))
            try:
                contract = await self.streams.append(organization_id, 0, _changes(events))
            except ConcurrencyError:
                contract = await self.get(organization_id)  # another replica adopted it, or a change got there
            if contract is not None:
                await self._save(contract)
                adopted += 1
        return adopted

    def _remember(self, organization_id: str, contract: NetworkContract | None) -> None:
        self._cache[organization_id] = (time.monotonic(), contract)

    async def _save(self, contract: NetworkContract) -> None:
        """Writes the snapshot unless a newer one is there (two writers may finish in any order)."""
        new = {"_id": contract.organization_id, "plan_ids": list(contract.plan_ids),
               "updated_at": contract.updated_at, "version": contract.version}
        for _ in range(SNAPSHOT_WRITE_ATTEMPTS):
            doc = await self.snapshots.find_one({"_id": contract.organization_id})
            if doc is not None and doc.get("version", 0) >= contract.version:
                return
            if await compare_and_set(self.snapshots, doc, new, field="version"):
                return
        # Still racing: the snapshot stays behind, and every read refolds the stream until a write lands.


def _from_snapshot(doc: dict) -> NetworkContract:
    return NetworkContract(organization_id=doc["_id"], plan_ids=tuple(doc["plan_ids"]),
                           updated_at=_aware(doc["updated_at"]), version=doc["version"])


def _aware(moment: datetime) -> datetime:
    # A client without tz_aware hands back naive datetimes; BSON dates are always UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
