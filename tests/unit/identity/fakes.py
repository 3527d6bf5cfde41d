"""In-memory stand-ins for identity's collections and event store (point reads by _id only)."""

import copy

from pymongo.errors import DuplicateKeyError

from infra.eventstore import ConcurrencyError


class FakeCollection:
    def __init__(self) -> None:
        self.docs: dict[str, dict] = {}

    async def find_one(self, query: dict, projection: dict | None = None) -> dict | None:
        assert set(query) == {"_id"}, "identity reads by _id only (the one filter FerretDB v1 pushes down)"
        doc = self.docs.get(query["_id"])
        return copy.deepcopy(doc) if doc is not None else None

    async def insert_one(self, doc: dict) -> None:
        if doc["_id"] in self.docs:
            raise DuplicateKeyError("duplicate _id")
        self.docs[doc["_id"]] = copy.deepcopy(doc)

    async def delete_one(self, query: dict) -> None:
        self.docs.pop(query["_id"], None)

    async def create_index(self, *args, **kwargs) -> None:
        return None


class FakeDb(dict):
    def __missing__(self, name: str) -> FakeCollection:
        self[name] = FakeCollection()
        return self[name]


class FakeStore:
    def __init__(self) -> None:
        self.streams: dict[tuple[str, int], tuple[str, dict]] = {}

    async def append(self, stream: str, topic: str, event, meta: dict | None = None) -> None:
        key = (stream, event.aggregateversion)
        if key in self.streams:
            raise ConcurrencyError(stream, event.aggregateversion)
        self.streams[key] = (topic, event.to_json_dict())
