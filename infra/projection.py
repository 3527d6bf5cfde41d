"""Projections: read models built from topics, rebuildable from offset zero.

One way to dedupe and record a position, for every read model:

- one view document per key (`_id`), carrying the aggregate `version` it reflects;
- an event at or below that version is ignored (redelivery, replay, rebuild);
- the next view and its version are written together in one compare-and-set write
  (insert when there was none, else replace where `version` is still the one read),
  so two writers (the live consumer and a rebuild, or two redeliveries) cannot
  overwrite each other: the loser raises TransientError and retries on fresh state.

Subclass VersionedProjection and implement `key` and `evolve`:

    class ClaimStatus(VersionedProjection):
        event_types = CLAIM_EVENT_TYPES
        def key(self, payload, event) -> str: return event.subject
        async def evolve(self, current, payload, event) -> dict | None: ...   # pure fold, usually
        async def after_write(self, view) -> None: ...                      # optional side index

    runtime.consumer("group", projection.subscriptions())   # live
    await projection.rebuild(settings)                       # from offset zero, same code

`evolve` gets the current view (None for a new key) and returns the next one (None:
nothing to change). When the event does not follow the view's version (a gap: an
event before it was parked on the dead-letter topic, or never published) the base
calls `on_gap`, which by default raises TransientError; a projection that can
resynchronise (e.g. refold the key's events from the topic, see
services/claims/members.py and `replay_key` below) overrides it.

Live, a projection is an ordinary consumer group. A rebuild reads the topics from the
beginning up to the end offsets seen when it starts, with no group (so it never moves
the live group's offsets), through the very same handler.
"""

from collections.abc import Iterable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from pydantic import BaseModel, ValidationError
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CloudEvent
from contracts.registry import BY_TYPE
from infra.consumer import TransientError, is_transient
from infra.settings import PlatformSettings
from infra.subscriptions import EventHandler, Subscriptions


class VersionedProjection:
    """Base of every read model: a view per key with the version it reflects (module docstring)."""

    event_types: Iterable[str] = ()

    def __init__(self, views: AsyncCollection) -> None:
        self.views = views

    # ------------------------------------------------------------ to implement

    def key(self, payload: BaseModel, event: CloudEvent) -> str:
        raise NotImplementedError

    async def evolve(
        self, current: dict[str, Any] | None, payload: BaseModel, event: CloudEvent
    ) -> dict[str, Any] | None:
        raise NotImplementedError

    def follows(self, current: dict[str, Any] | None, event: CloudEvent) -> bool:
        """Whether the event is the next one for the view (default: version + 1, or the first)."""
        version = event.aggregateversion or 0
        return version == (current["version"] if current else 0) + 1

    async def on_gap(
        self, current: dict[str, Any] | None, payload: BaseModel, event: CloudEvent
    ) -> dict[str, Any] | None:
        """The event skips versions. Default: wait for the missing ones (transient)."""
        raise TransientError("event does not follow the view's version")

    async def after_write(self, view: dict[str, Any]) -> None:
        """A side effect of a written view (a secondary lookup document); idempotent."""

    async def ensure_indexes(self) -> None:
        pass

    async def clear(self) -> None:
        # Emptied rather than dropped: FerretDB v1 keeps a dropped collection's SQLite
        # index names and then refuses to create them again.
        await self.views.delete_many({})

    # ---------------------------------------------------------------- the rules

    def subscriptions(self) -> dict[str, EventHandler]:
        return {event_type: self.apply for event_type in self.event_types}

    async def get(self, key: str) -> dict[str, Any] | None:
        return await self.views.find_one({"_id": key})

    async def apply(self, payload: BaseModel, event: CloudEvent) -> None:
        key = self.key(payload, event)
        current = await self.get(key)
        version = event.aggregateversion or 0
        if current is not None and current["version"] >= version:
            return  # already reflected
        if self.follows(current, event):
            view = await self.evolve(current, payload, event)
        else:
            view = await self.on_gap(current, payload, event)
        if view is None:
            return
        await self.write(current, view)
        await self.after_write(view)

    async def write(self, current: dict[str, Any] | None, view: dict[str, Any]) -> None:
        """Compare-and-set: from the version read, or an insert when there was no view."""
        if current is None:
            try:
                await self.views.insert_one(view)
            except DuplicateKeyError:
                raise TransientError("view created concurrently") from None
            return
        result = await self.views.replace_one({"_id": view["_id"], "version": current["version"]}, view)
        if result.matched_count == 0:
            raise TransientError("view changed concurrently")

    async def rebuild(self, settings: PlatformSettings) -> int:
        """Empties the read model and refolds it from offset zero through `apply`."""
        await self.clear()
        await self.ensure_indexes()
        return await rebuild(settings, Subscriptions(self.subscriptions()))


async def replay_key(settings: PlatformSettings, topic: str, key: str) -> list[CloudEvent]:
    """Every decodable event on `topic` whose Kafka key is `key`, from offset zero up to
    the end offsets seen at the start, in partition order; payloads that do not match
    their contract are left out (they are the poison the live consumer parked).

    Reads only the key's partition (the default partitioner's choice), so the cost is
    one partition's history: meant for resynchronising one key after a gap, not for
    hot paths.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False, group_id=None,
        isolation_level="read_committed",
    )
    await consumer.start()
    wanted = key.encode()
    found: list[CloudEvent] = []
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))
        if not partitions:
            return []
        tp = TopicPartition(topic, DefaultPartitioner()(wanted, partitions, partitions))
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < end:
            batches = await consumer.getmany(tp, timeout_ms=500, max_records=500)
            for record in batches.get(tp, []):
                if record.offset >= end or record.key != wanted:
                    continue
                try:
                    event = CloudEvent.model_validate(orjson.loads(record.value))
                    contract = BY_TYPE.get(event.type)
                    if contract is None:
                        continue
                    contract.payload.model_validate(event.data)
                except (ValueError, ValidationError):
                    continue
                found.append(event)
    finally:
        await consumer.stop()
    return found


async def rebuild(settings: PlatformSettings, handler: Subscriptions) -> int:
    topics = handler.topics
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        isolation_level="read_committed",
    )
    await consumer.start()
    applied = 0
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=500, max_records=500)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end[tp]:
                        continue
                    try:
                        event = CloudEvent.model_validate(orjson.loads(record.value))
                    except (ValueError, ValidationError):
                        continue  # poison: the live consumer already dead-lettered it
                    try:
                        await handler(event, record)
                    except Exception as exc:  # noqa: BLE001
                        if is_transient(exc):
                            raise
                        continue  # poison for this handler: dead-lettered live as well
                    applied += 1
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return applied


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # noqa: SLF001 - aiokafka has no public refresh
    return consumer.partitions_for_topic(topic) or set()
