"""Projections: read models built from topics, rebuildable from offset zero.

One way to dedupe and record a position, for every read model:

- one view document per key (`_id`), carrying the aggregate `version` it reflects;
- an event at or below that version is ignored (redelivery, replay, rebuild);
- the next view and its version are written together in one compare-and-set write
  (insert when there was none, else replace where `version` is still the one read),
  so two writers (the live consumer and a rebuild, or two redeliveries) cannot
  overwrite each other: the loser raises TransientError and retries on fresh state.

Subclass VersionedProjection and implement `key` and `fold`:

    class MemberCopy(VersionedProjection):
        event_types = MEMBERSHIP_EVENT_TYPES
        resync_topic = topics.MEMBERSHIP                     # optional: refold a key after a gap
        def key(self, payload, event) -> str: ...
        def fold(self, current, payload, event) -> dict | None: ...   # pure, one event
        async def after_write(self, view) -> None: ...              # optional side index

    runtime.consumer("group", projection.subscriptions())   # live
    await projection.rebuild(settings)                       # from offset zero, same code

`fold` gets the current view (None for a new key) and one event, and returns the next
view, or None when there is no view and the event cannot start one (an update before
the creation). It is pure and does not judge versions: ordering is the base's job.
A projection whose events arrive in an order of their own overrides `follows` and
`evolve` instead (services/claims/status_projection.py).

An event that follows the view's version (`follows`: version + 1, or the first) is
folded in. An event that skips versions (a gap: an event before it was parked on the
dead-letter topic, or never published) goes to `on_gap`. With a `resync_topic` (and
settings to reach Kafka) the key's history is read back from that topic (`replay_key`:
the key's partition only; payloads that fail their contract are left out, as the live
consumer left them out) and refolded with the same `fold`, over the holes: the one
implementation of "resynchronise a key after a gap". Without one, a gap is waited for.

What no retry can change (an event that cannot start a view, a history with nothing
to start one) raises NotFoldable, which is not transient: the consumer parks the event
at once instead of holding up its partition for the whole retry window.

Live, a projection is an ordinary consumer group. A rebuild reads the topics from the
beginning up to the end offsets seen when it starts, with no group (so it never moves
the live group's offsets), through the very same handler.
"""

from collections import OrderedDict
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

Entry = tuple[BaseModel, CloudEvent]
"""An event with its payload validated against its contract."""


class NotFoldable(ValueError):
    """An event the view can never take, whatever is retried: poison for this projection."""


class VersionedProjection:
    """Base of every read model: a view per key with the version it reflects (module docstring)."""

    event_types: Iterable[str] = ()
    resync_topic: str | None = None
    """Where a key's history is refolded from after a gap; None: a gap is waited for."""

    recent_views: int = 4096
    """Views this consumer last wrote, kept to spare the read before the next write."""

    def __init__(self, views: AsyncCollection, settings: PlatformSettings | None = None) -> None:
        self.views = views
        self.settings = settings
        # The next event of a key usually follows the one this process just wrote (a
        # claim's decision after its receipt): deciding on the remembered view saves a
        # read. No invalidation is needed: the write is a compare-and-set on the version,
        # so a view another writer moved on fails it, is forgotten, and the retry reads.
        self._recent: OrderedDict[str, dict[str, Any]] = OrderedDict()

    # ------------------------------------------------------------ to implement

    def key(self, payload: BaseModel, event: CloudEvent) -> str:
        raise NotImplementedError

    def fold(self, current: dict[str, Any] | None, payload: BaseModel, event: CloudEvent) -> dict[str, Any] | None:
        """Pure: the view after `event`, at its aggregateversion; None: no view, and none starts here."""
        raise NotImplementedError

    async def evolve(
        self, current: dict[str, Any] | None, payload: BaseModel, event: CloudEvent
    ) -> dict[str, Any] | None:
        """The next view for an event that follows the current one (None: nothing to change)."""
        view = self.fold(current, payload, event)
        if view is None:
            # It follows the view's version: nothing that is missing can still come first.
            raise NotFoldable(f"{event.type} cannot start a view")
        return view

    def follows(self, current: dict[str, Any] | None, event: CloudEvent) -> bool:
        """Whether the event is the next one for the view (default: version + 1, or the first)."""
        version = event.aggregateversion or 0
        return version == (current["version"] if current else 0) + 1

    def resync_key(self, payload: BaseModel, event: CloudEvent) -> str:
        """The Kafka key the view's events travel under on `resync_topic`."""
        return event.partitionkey or self.key(payload, event)

    async def on_gap(
        self, current: dict[str, Any] | None, payload: BaseModel, event: CloudEvent
    ) -> dict[str, Any] | None:
        """The event skips versions: resynchronise from `resync_topic`, else wait (transient)."""
        if self.resync_topic is None or self.settings is None:
            raise TransientError("event does not follow the view's version")
        return await self.resynchronise(current, payload, event)

    async def after_write(self, view: dict[str, Any]) -> None:
        """A side effect of a written view (a secondary lookup document); idempotent."""

    async def ensure_indexes(self) -> None:
        pass

    async def clear(self) -> None:
        # Emptied rather than dropped: FerretDB v1 keeps a dropped collection's SQLite
        # index names and then refuses to create them again.
        self._recent.clear()
        await self.views.delete_many({})

    # ---------------------------------------------------------------- the rules

    def subscriptions(self) -> dict[str, EventHandler]:
        return {event_type: self.apply for event_type in self.event_types}

    async def get(self, key: str) -> dict[str, Any] | None:
        return await self.views.find_one({"_id": key})

    async def apply(self, payload: BaseModel, event: CloudEvent, *, read: bool = False) -> None:
        key = self.key(payload, event)
        version = event.aggregateversion or 0
        current = self._recent.get(key)
        # An event at version 1 starts its view: it is written with an insert and no read;
        # if the view exists after all (a redelivery), the insert fails and we read.
        skipped_read = current is None and version == 1 and not read
        if current is None and not skipped_read:
            current = await self.get(key)
        if current is not None and current["version"] >= version:
            return  # already reflected
        if self.follows(current, event):
            view = await self.evolve(current, payload, event)
        else:
            view = await self.on_gap(current, payload, event)
        if view is None:
            return
        try:
            await self.write(current, view)
        except TransientError:
            self._recent.pop(key, None)
            if skipped_read:
                return await self.apply(payload, event, read=True)
            raise
        except BaseException:
            self._recent.pop(key, None)
            raise
        self._recent[key] = view
        self._recent.move_to_end(key)
        if len(self._recent) > self.recent_views:
            self._recent.popitem(last=False)
        await self.after_write(view)

    async def resynchronise(
        self, current: dict[str, Any] | None, payload: BaseModel, event: CloudEvent
    ) -> dict[str, Any] | None:
        """The key refolded from `resync_topic` up to now; None when the view already has it all."""
        key = self.key(payload, event)
        history = await replay_key(self.settings, self.resync_topic, self.resync_key(payload, event))
        entries = [
            entry for entry in map(_entry, history)
            if entry is not None and entry[1].type in self.event_types and self.key(*entry) == key
        ]
        # The event in hand is valid even where a new reader does not see it yet.
        view = self.refold([*entries, (payload, event)])
        if view is None:
            # The topic already holds everything before this event on its partition:
            # a retry would read the same history.
            raise NotFoldable("nothing on the topic starts a view for the key")
        if current is not None and view["version"] <= current["version"]:
            return None
        return view

    def refold(self, entries: Iterable[Entry]) -> dict[str, Any] | None:
        """Pure: one key's view from its events, in version order, over the holes.

        One event per version (the first seen: a redelivery repeats it). An event the
        fold cannot take is left out, as the live consumer parked it. The view records
        that it was resynchronised and the versions it never saw.
        """
        by_version: dict[int, Entry] = {}
        for payload, event in entries:
            if event.aggregateversion:
                by_version.setdefault(event.aggregateversion, (payload, event))
        view: dict[str, Any] | None = None
        skipped: list[int] = []
        expected = 1
        for version in sorted(by_version):
            try:
                folded = self.fold(view, *by_version[version])
            except (ValueError, KeyError, TypeError):
                folded = None  # poison for the fold: the live consumer parked it too
            if folded is None:
                continue
            skipped.extend(range(expected, version))
            view, expected = folded, version + 1
        if view is None:
            return None
        return {**view, "resynchronised": True, "skipped_versions": skipped}

    async def write(self, current: dict[str, Any] | None, view: dict[str, Any]) -> None:
        """Compare-and-set: from the version read, or an insert when there was no view."""
        if not await compare_and_set(self.views, current, view, field="version"):
            raise TransientError("view changed concurrently")

    async def rebuild(self, settings: PlatformSettings) -> int:
        """Empties the read model and refolds it from offset zero through `apply`."""
        await self.clear()
        await self.ensure_indexes()
        return await rebuild(settings, Subscriptions(self.subscriptions()))


async def compare_and_set(
    views: AsyncCollection, current: dict[str, Any] | None, new: dict[str, Any], *, field: str
) -> bool:
    """Writes `new` over `current` in one atomic document write, if no one changed it since
    it was read (its `field` still holds what was read); an insert when there was none.

    False when another writer got there first: reread and decide again. Any read copy
    can keep its own guard field (a stream version, a revision counter) this way.
    """
    if current is None:
        try:
            await views.insert_one(new)
        except DuplicateKeyError:
            return False
        return True
    result = await views.replace_one({"_id": new["_id"], field: current.get(field)}, new)
    return result.matched_count == 1


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


def _entry(event: CloudEvent) -> Entry | None:
    contract = BY_TYPE.get(event.type)
    if contract is None:
        return None
    try:
        return contract.payload.model_validate(event.data), event
    except ValidationError:
        return None


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
