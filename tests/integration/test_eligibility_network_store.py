"""Eligibility's network contract store against real FerretDB: snapshots that lag the
stream are repaired, contracts stored before they were events are adopted, and reads
are point reads by `_id`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pymongo import AsyncMongoClient, monitoring

from infra.eventstore import EventStore
from services.eligibility.network import NetworkContracts, _changes
from services.eligibility.domain.network import contract_change


class Filters(monitoring.CommandListener):
    def __init__(self) -> None:
        self.finds: list[dict] = []

    def started(self, event):
        if event.command_name == "find":
            self.finds.append(event.command.get("filter") or {})

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


@pytest.fixture
async def stores(infra_stack):
    filters = Filters()
    clients = [AsyncMongoClient(infra_stack.mongodb_uri, event_listeners=[filters]) for _ in range(2)]
    db_name = f"test_network_{uuid.uuid4().hex[:8]}"
    yield [NetworkContracts(EventStore(c[db_name], "test"), c[db_name]) for c in clients], filters
    for client in clients:
        await client.close()


def org() -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


async def test_another_process_reads_the_latest_contract_with_point_reads_only(stores):
    (mine, theirs), filters = stores
    organization_id = org()
    await mine.set_plans(organization_id, ["gold-hmo-2026"])
    await theirs.set_plans(organization_id, ["silver-hmo-2026"])  # decides on its own read, not on mine
    filters.finds.clear()
    contract = await mine.get(organization_id)
    assert (contract.plan_ids, contract.version) == (("silver-hmo-2026",), 2)
    assert filters.finds and all(list(f) == ["_id"] and isinstance(f["_id"], str) for f in filters.finds)
    assert await mine.contracted_plans(organization_id) == frozenset({"silver-hmo-2026"})


async def test_a_snapshot_left_behind_by_a_dead_writer_is_repaired_on_read(stores):
    (store, _), _ = stores
    organization_id = org()
    await store.set_plans(organization_id, ["gold-hmo-2026"])
    # A writer that appended version 2 and died before its snapshot write.
    events = contract_change(await store.get(organization_id), organization_id, ["platinum-epo-2026"], datetime.now(UTC))
    await store.streams.append(organization_id, 1, _changes(events))
    contract = await store.get(organization_id)
    assert (contract.plan_ids, contract.version) == (("platinum-epo-2026",), 2)
    assert (await store.snapshots.find_one({"_id": organization_id}))["version"] == 2
    # Deciding on the repaired state: the same contract is no change.
    again = await store.set_plans(organization_id, ["platinum-epo-2026"])
    assert again.version == 2


async def test_contracts_stored_before_they_were_events_are_adopted_once(stores):
    (store, other), _ = stores
    organization_id = org()
    await store.snapshots.insert_one({"_id": organization_id, "plan_ids": ["gold-hmo-2026", "bronze-epo-2026"],
                                      "updated_at": datetime(2026, 1, 5, tzinfo=UTC)})
    assert await store.adopt_unversioned() == 1
    assert await other.adopt_unversioned() == 0
    [event] = await store.streams.load_events(organization_id)
    assert (event["type"], event["aggregateversion"], event["data"]["plan_ids"]) == (
        "network_contract.updated", 1, ["bronze-epo-2026", "gold-hmo-2026"])
    contract = await other.get(organization_id)
    assert (contract.plan_ids, contract.version) == (("bronze-epo-2026", "gold-hmo-2026"), 1)
