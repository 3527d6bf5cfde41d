"""The aggregate repository against real FerretDB: optimistic concurrency, the bounded
retry, and deciding on the events it already knows without reading them back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from pymongo import AsyncMongoClient, monitoring

from infra.aggregates import AggregateRepository, ConcurrentUpdate, Envelope, Recorded
from infra.eventstore import ConcurrencyError, EventStore


@dataclass(frozen=True)
class Change:
    type: str
    data: dict


def fold(state: dict | None, aggregate_id: str, event: Recorded) -> dict:
    # A fresh dict per event: the repository may refold the same events more than once.
    count = (state or {}).get("count", 0)
    return {"id": aggregate_id, "count": count + event.data["by"], "version": event.version}


class Finds(monitoring.CommandListener):
    def __init__(self) -> None:
        self.count = 0

    def started(self, event):
        if event.command_name == "find" and event.command.get("find") == "events":
            self.count += 1

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


@pytest.fixture
async def repos(infra_stack):
    finds = Finds()
    clients = [AsyncMongoClient(infra_stack.mongodb_uri, event_listeners=[finds]) for _ in range(2)]
    db_name = f"test_aggregates_{uuid.uuid4().hex[:8]}"

    def repo(client):
        store = EventStore(client[db_name], "test")
        return AggregateRepository(store, topic="test.events", source="/tests", stream_prefix="counter",
                                   fold=fold, envelope_of=lambda s: Envelope(partition_key=s["id"]))  # fmt: skip

    yield repo(clients[0]), repo(clients[1]), finds
    for client in clients:
        await client.close()


async def test_a_process_decides_on_what_it_appended_without_reading_it_back(repos):
    mine, _, finds = repos
    await mine.append("a", 0, [Change("counter.added", {"by": 1})])
    before = finds.count
    outcome = await mine.execute("a", lambda state: [Change("counter.added", {"by": state["count"] + 1})])
    assert finds.count == before  # no stream read: the events it stored are remembered
    assert (outcome.version, outcome.state["count"]) == (2, 3)
    loaded = await mine.load("a")
    assert (loaded.version, loaded.state["count"]) == (2, 3)


async def test_another_writer_moving_the_stream_on_is_seen_by_the_append_and_retried(repos):
    mine, theirs, _ = repos
    await mine.append("b", 0, [Change("counter.added", {"by": 1})])
    # The other process appends version 2: this process's memory of the stream is now stale.
    await theirs.append("b", 1, [Change("counter.added", {"by": 10})], state={"id": "b", "count": 1})
    outcome = await mine.execute("b", lambda state: [Change("counter.added", {"by": 100})] if state["count"] < 100 else [])
    assert outcome.version == 3 and outcome.state["count"] == 111  # decided again on the reloaded stream
    assert (await theirs.load("b")).state["count"] == 111


async def test_a_stale_append_raises_and_a_hopeless_race_is_a_409(repos):
    mine, theirs, _ = repos
    await mine.append("c", 0, [Change("counter.added", {"by": 1})])
    with pytest.raises(ConcurrencyError):
        await theirs.append("c", 0, [Change("counter.added", {"by": 1})])

    calls = 0

    def always_losing(state):
        nonlocal calls
        calls += 1
        return [Change("counter.added", {"by": 1})]

    # Another writer appends behind every decision: the retry is bounded and says so.
    original_append = mine.store.append

    async def racing_append(stream, topic, event, meta=None):
        await theirs.store.append(stream, topic, event, meta)
        return await original_append(stream, topic, event, meta)

    mine.store.append = racing_append
    with pytest.raises(ConcurrentUpdate) as refused:
        await mine.execute("c", always_losing)
    assert refused.value.status == 409 and calls == mine.max_attempts
