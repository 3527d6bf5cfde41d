"""One aggregate repository: load a stream, append at the expected version, retry a lost race.

Every service with event-sourced aggregates (claims, eligibility's members, ...) uses
this instead of its own loop, so that optimistic concurrency reads the same everywhere:

    repo = AggregateRepository(
        store, topic=topics.CLAIMS, source="/services/claims", stream_prefix="claim",
        fold=fold_claim,            # (state | None, aggregate_id, Recorded) -> state
        envelope_of=claim_envelope, # state after the new events -> Envelope(organization, partition key)
    )
    loaded = await repo.load(claim_id)                  # Loaded(state, version) | None
    await repo.append(claim_id, 0, events, meta={...})   # a new stream; ConcurrencyError if it exists
    outcome = await repo.execute(claim_id, decide)       # load, decide, append; on a lost race reload
                                                         # and decide again, at most `max_attempts`
                                                         # times, then 409 `concurrent_update`

`decide(state | None) -> list[Change]` must be pure: it may run more than once. It
raises the domain's own errors to refuse; an empty list means "nothing to do"
(already done: commands are idempotent), and execute then appends nothing.

Envelope rules (BLUEPRINT §3): source and type, subject = aggregate id,
aggregateversion = the event's position in the stream, organisation (tenant),
partition key = member id for member-centred topics (falls back to the aggregate id),
causation and correlation ids (correlation defaults to the aggregate id). `meta` is
stored beside the first event of the append, never published (e.g. an idempotency
fingerprint on a stream's creation, see infra/idempotency.py).

Reads are point reads by `_id` (the only filter FerretDB v1 pushes down): a load is
one round trip per event plus one; `has_version` is one round trip.

`execute` first decides on the events this process last loaded or appended for the
stream (a bounded memory of recent streams, refolded on every use, so no decision
ever sees a half-applied state). That is safe without any invalidation: the append
at the expected version is the check, and a stream another writer moved on loses
the race, is forgotten and reloaded. A claim received by this process is thus
adjudicated without reading its stream back.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from contracts.envelope import new_event
from infra.eventstore import ConcurrencyError, EventStore, event_key
from infra.http.problems import Problem

S = TypeVar("S")

DEFAULT_MAX_ATTEMPTS = 5
RECENT_STREAMS = 4096
"""Streams whose events execute() may decide on without reading them back."""


class Change(Protocol):
    """A new event as the domain decided it: its type and JSON-ready payload."""

    @property
    def type(self) -> str: ...

    @property
    def data(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Recorded:
    """A stored event as the fold sees it."""

    type: str
    version: int
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Envelope:
    organization_id: str | None = None
    partition_key: str | None = None
    """Member id on member-centred topics; None: the aggregate id."""


@dataclass(frozen=True)
class Loaded(Generic[S]):
    state: S
    version: int


@dataclass(frozen=True)
class Outcome(Generic[S]):
    state: S | None
    version: int
    appended: int
    """How many events this call stored (0: the decision found nothing to do)."""


class ConcurrentUpdate(Problem):
    """Every attempt lost the race: answered as 409 `concurrent_update`.

    Consumers translate it into a transient error (the runner retries with backoff);
    routes let it through as problem+json. It is never swallowed.
    """

    def __init__(self, attempts: int) -> None:
        super().__init__(
            409, f"The resource changed concurrently {attempts} times; retry the request.", code="concurrent_update"
        )
        self.attempts = attempts


class AggregateRepository(Generic[S]):
    def __init__(
        self,
        store: EventStore,
        *,
        topic: str,
        source: str,
        stream_prefix: str,
        fold: Callable[[S | None, str, Recorded], S],
        envelope_of: Callable[[S], Envelope],
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        self.store = store
        self.topic = topic
        self.source = source
        self.stream_prefix = stream_prefix
        self.fold = fold
        self.envelope_of = envelope_of
        self.max_attempts = max_attempts
        self._recent: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    def _remember(self, aggregate_id: str, events: list[dict[str, Any]]) -> None:
        self._recent[aggregate_id] = events
        self._recent.move_to_end(aggregate_id)
        while len(self._recent) > RECENT_STREAMS:
            self._recent.popitem(last=False)

    def _fold_all(self, aggregate_id: str, stored: list[dict[str, Any]]) -> Loaded[S] | None:
        if not stored:
            return None
        state: S | None = None
        for event in stored:
            state = self.fold(state, aggregate_id, Recorded(event["type"], event["aggregateversion"], event["data"]))
        assert state is not None
        return Loaded(state, len(stored))

    def stream_of(self, aggregate_id: str) -> str:
        return f"{self.stream_prefix}-{aggregate_id}"

    async def load(self, aggregate_id: str) -> Loaded[S] | None:
        stored = await self.store.load(self.stream_of(aggregate_id))
        if stored:
            self._remember(aggregate_id, list(stored))
        return self._fold_all(aggregate_id, stored)

    async def _load_for_decision(self, aggregate_id: str) -> Loaded[S] | None:
        recent = self._recent.get(aggregate_id)
        if recent is not None:
            return self._fold_all(aggregate_id, recent)
        return await self.load(aggregate_id)

    async def load_events(self, aggregate_id: str) -> list[dict[str, Any]]:
        """The stored CloudEvents of the stream, in order (for read-side folds)."""
        return await self.store.load(self.stream_of(aggregate_id))

    async def first(self, aggregate_id: str) -> dict[str, Any] | None:
        """The stream's first stored document ({"event", "meta"}), or None: one round trip."""
        return await self.store.first(self.stream_of(aggregate_id))

    async def has_version(self, aggregate_id: str, version: int) -> bool:
        """Whether the stream has an event at `version`: one point read by `_id`.

        A read model reflecting version v is current exactly when v + 1 does not exist.
        """
        doc = await self.store.events.find_one({"_id": event_key(self.stream_of(aggregate_id), version)}, {"_id": 1})
        return doc is not None

    async def append(
        self,
        aggregate_id: str,
        expected_version: int,
        changes: Sequence[Change],
        *,
        state: S | None = None,
        causation_id: str | None = None,
        correlation_id: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> S | None:
        """Stores `changes` as versions expected_version+1, ... of the stream.

        Raises ConcurrencyError when another writer got there first (nothing of this
        call is stored then, unless it lost the race on a later event of a multi-event
        append, which the caller's next decision sees on reload). Returns the state
        after the changes; `state` is the state at `expected_version` (None for a new stream).
        """
        stream = self.stream_of(aggregate_id)
        version = expected_version
        folded = state
        for change in changes:
            version += 1
            folded = self.fold(folded, aggregate_id, Recorded(change.type, version, change.data))
        if not changes:
            return folded
        envelope = self.envelope_of(folded)
        version = expected_version
        appended: list[dict[str, Any]] = []
        try:
            for index, change in enumerate(changes):
                version += 1
                stored = await self.store.append(
                    stream,
                    self.topic,
                    new_event(
                        source=self.source, type=change.type, subject=aggregate_id, data=dict(change.data),
                        aggregateversion=version, organizationid=envelope.organization_id,
                        partitionkey=envelope.partition_key or aggregate_id,
                        causationid=causation_id, correlationid=correlation_id or aggregate_id,
                    ),
                    meta=meta if index == 0 else None,
                )
                appended.append(stored.event)
        except BaseException:
            self._recent.pop(aggregate_id, None)  # the stream is not what this process knew
            raise
        before = self._recent.get(aggregate_id)
        if expected_version == 0:
            self._remember(aggregate_id, appended)
        elif before is not None and len(before) == expected_version:
            self._remember(aggregate_id, before + appended)
        else:
            self._recent.pop(aggregate_id, None)
        return folded

    async def execute(
        self,
        aggregate_id: str,
        decide: Callable[[S | None], Sequence[Change]],
        *,
        causation_id: str | None = None,
        correlation_id: str | None = None,
        current: Loaded[S] | None = None,
    ) -> Outcome[S]:
        """Load, decide, append; on a lost race reload and decide again (bounded), then 409.

        `current` is a state the caller has just loaded: the first attempt decides on it
        instead of loading again (if it is stale, the append loses and the retry reloads).
        """
        for attempt in range(self.max_attempts):
            if attempt == 0 and current is not None:
                loaded = current
            elif attempt == 0:
                loaded = await self._load_for_decision(aggregate_id)
            else:
                loaded = await self.load(aggregate_id)
            state, version = (loaded.state, loaded.version) if loaded else (None, 0)
            changes = list(decide(state))
            if not changes:
                return Outcome(state, version, 0)
            try:
                after = await self.append(
                    aggregate_id, version, changes, state=state,
                    causation_id=causation_id, correlation_id=correlation_id,
                )
            except ConcurrencyError:
                continue
            return Outcome(after, version + len(changes), len(changes))
        raise ConcurrentUpdate(self.max_attempts)
