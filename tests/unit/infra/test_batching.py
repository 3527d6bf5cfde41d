"""Group commit logic, with a recording stand-in for the collection (the real one is exercised by the integration tests)."""

import asyncio

import pytest
from pymongo.errors import BulkWriteError, DuplicateKeyError

from infra.batching import BatchedInserts


class RecordingCollection:
    name = "recording"

    def __init__(self, fail_ids=()):
        self.calls: list[list[dict]] = []
        self.fail_ids = set(fail_ids)

    async def insert_many(self, docs, ordered):
        assert ordered is False
        self.calls.append(list(docs))
        await asyncio.sleep(0.01)  # a round in flight while more callers arrive
        errors = [{"index": i, "code": 11000, "errmsg": "dup"} for i, d in enumerate(docs) if d["_id"] in self.fail_ids]
        if errors:
            raise BulkWriteError({"writeErrors": errors})


async def test_concurrent_callers_share_rounds_and_all_complete():
    collection = RecordingCollection()
    inserts = BatchedInserts(collection)
    await asyncio.gather(*(inserts.insert({"_id": i}) for i in range(50)))
    assert sorted(d["_id"] for call in collection.calls for d in call) == list(range(50))
    assert len(collection.calls) < 50


async def test_a_duplicate_fails_only_its_own_caller():
    collection = RecordingCollection(fail_ids={3})
    inserts = BatchedInserts(collection)
    results = await asyncio.gather(*(inserts.insert({"_id": i}) for i in range(6)), return_exceptions=True)
    assert isinstance(results[3], DuplicateKeyError)
    assert [r for i, r in enumerate(results) if i != 3] == [None] * 5


async def test_a_failed_round_fails_its_callers():
    class Broken(RecordingCollection):
        async def insert_many(self, docs, ordered):
            raise ConnectionError("down")

    inserts = BatchedInserts(Broken())
    with pytest.raises(ConnectionError):
        await inserts.insert({"_id": 1})


async def test_a_lingering_round_waits_for_callers_arriving_just_after_the_first():
    collection = RecordingCollection()
    inserts = BatchedInserts(collection, linger=0.02)

    async def later(i):
        await asyncio.sleep(0.005 * i)
        await inserts.insert({"_id": i})

    await asyncio.gather(*(later(i) for i in range(3)))
    assert [[d["_id"] for d in call] for call in collection.calls] == [[0, 1, 2]]


async def test_without_linger_a_lone_document_is_written_at_once():
    collection = RecordingCollection()
    inserts = BatchedInserts(collection)

    async def later(i):
        await asyncio.sleep(0.005 * i)
        await inserts.insert({"_id": i})

    await asyncio.gather(*(later(i) for i in range(3)))
    assert collection.calls[0] == [{"_id": 0}]
