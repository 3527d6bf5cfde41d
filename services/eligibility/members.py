"""Enrollment use cases: each command loads the member's stream, decides, appends.

Streams are loaded and appended through the platform's aggregate repository
(infra/aggregates.py): the same optimistic concurrency and bounded retry as every
other service's aggregates.
"""

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import date

from contracts import topics
from contracts.events.membership import EVENT_TYPES as MEMBER_EVENT_TYPES
from contracts.identifiers import is_member_id
from infra.audit import record_access
from infra.aggregates import AggregateRepository, Envelope, Recorded
from infra.eventstore import ConcurrencyError, EventStore
from infra.http.auth import Principal
from infra.http.problems import Problem
from infra.idempotency import stored_fingerprint
from refdata.plans import Catalogue
from services.eligibility.domain import (
    Demographics,
    DomainError,
    Member,
    MemberEvent,
    apply,
    change_plan,
    enroll,
    event_from_payload,
    replay,
    terminate,
)
from services.eligibility.member_cache import MemberCache

SOURCE = "/services/eligibility"


STREAM_PREFIX = "member"


def stream_of(member_id: str) -> str:
    """The member's stream in the event store (as the aggregate repository names it)."""
    return f"{STREAM_PREFIX}-{member_id}"


def new_member_id(caller: str, idempotency_key: str | None) -> str:
    """Member ids look like the ones printed on ID cards: M + 10 digits.

    With an Idempotency-Key the id is derived from it, so a retried POST lands on the
    stream its first attempt created.
    """
    if idempotency_key:
        digest = hashlib.sha256(f"member:{caller}:{idempotency_key}".encode()).hexdigest()
        return "M" + str(int(digest[:16], 16) % 10**10).zfill(10)
    return "M" + str(secrets.randbelow(10**10)).zfill(10)


@dataclass(frozen=True)
class _Change:
    type: str
    data: dict


def _changes(events: list[MemberEvent]) -> list[_Change]:
    return [_Change(e.type, e.payload()) for e in events]


def _fold(member: Member | None, member_id: str, event: Recorded) -> Member:
    return apply(member, event_from_payload(event.type, event.data))


class Members:
    def __init__(self, store: EventStore, catalogue: Catalogue, cache: MemberCache | None = None,
                 audit_store: EventStore | None = None) -> None:
        self.store = store
        self.audit_store = audit_store or store
        self.catalogue = catalogue
        self.cache = cache
        self.streams = AggregateRepository(
            store, topic=topics.MEMBERSHIP, source=SOURCE, stream_prefix=STREAM_PREFIX, fold=_fold,
            envelope_of=lambda member: Envelope(partition_key=member.member_id),
        )

    async def load(self, member_id: str) -> Member | None:
        """The member from its stream: what commands decide on (never from the copy)."""
        loaded_at = time.monotonic()
        loaded = await self.streams.load(member_id)
        member = loaded.state if loaded else None
        if member is not None and self.cache is not None:
            self.cache.put(member, loaded_at)
        return member

    def cached(self, member_id: str) -> Member | None:
        """The in-memory copy's member when it may answer for it now, else None."""
        return self.cache.get(member_id) if self.cache is not None else None

    async def current(self, member_id: str) -> Member | None:
        """The member for answering a check: the in-memory copy when it may answer, else the stream."""
        if self.cache is not None:
            member = self.cache.get(member_id)
            if member is not None:
                return member
        return await self.load(member_id)

    def feed_handlers(self) -> dict:
        """membership.events types -> the copy's handler, for the live feed."""
        return {event_type: (topics.MEMBERSHIP, self._on_feed_event) for event_type in MEMBER_EVENT_TYPES}

    def _on_feed_event(self, event: dict) -> None:
        member_id = event.get("subject") or ""
        try:
            self.cache.on_event(member_id, int(event["aggregateversion"]),
                                event_from_payload(event["type"], event["data"]))
        except Exception:
            self.cache.forget(member_id)  # the copy must not keep a state it could not update
            raise

    async def audit(self, principal: Principal, action: str, member_id: str | None, outcome: str) -> None:
        """Every disclosure of a member's data (or refusal to disclose it) is an audited access."""
        await record_access(
            self.audit_store, principal, source=SOURCE, action=action, member_id=member_id, outcome=outcome,
            resource=f"members/{member_id}" if member_id else "members",
        )

    async def enroll(
        self, member_id: str, demographics: Demographics, plan_id: str, start: date, end: date | None,
        meta: dict | None = None, *, coverage_tier: str | None = None, subscriber_member_id: str | None = None,
    ) -> tuple[Member, bool]:
        """Returns the member and whether this call created it.

        subscriber_member_id is normalised; an id of a shape never issued is looked up
        as nobody (and refused as an unknown subscriber).
        """
        existing = await self.load(member_id)
        if existing is not None:
            return existing, False
        subscriber = None
        if subscriber_member_id is not None and is_member_id(subscriber_member_id):
            subscriber = await self.load(subscriber_member_id)
        events = _decide(lambda: enroll(
            member_id, demographics, plan_id, start, end, self.catalogue,
            coverage_tier=coverage_tier, subscriber_member_id=subscriber_member_id, subscriber=subscriber,
        ))
        try:
            member = await self.streams.append(member_id, 0, _changes(events), meta=meta)
        except ConcurrencyError:
            return await self.load(member_id), False
        self._remember(member)
        return member, True

    async def stored_fingerprint(self, member_id: str) -> str | None:
        """The body fingerprint the member's enrollment was stored with (infra/idempotency.py)."""
        return stored_fingerprint((await self.streams.first(member_id) or {}).get("meta"))

    async def terminate(self, member_id: str, coverage_end: date) -> Member | None:
        return await self._command(member_id, lambda m: terminate(m, coverage_end))

    async def change_plan(self, member_id: str, plan_id: str, effective: date) -> Member | None:
        return await self._command(member_id, lambda m: change_plan(m, plan_id, effective, self.catalogue))

    async def _command(self, member_id: str, decide) -> Member | None:
        """Load, decide, append; a lost race reloads and decides again (bounded, then 409)."""
        outcome = await self.streams.execute(
            member_id, lambda member: [] if member is None else _changes(_decide(lambda: decide(member)))
        )
        if outcome.state is not None and outcome.appended:
            self._remember(outcome.state)
        return outcome.state

    def _remember(self, member: Member | None) -> None:
        if self.cache is not None and member is not None:
            self.cache.put(member, time.monotonic())  # this replica reads its own writes at once


def _decide(decision):
    try:
        return decision()
    except DomainError as exc:
        found = getattr(exc, "errors", (exc,))
        raise Problem(
            422, str(exc.message) if len(found) == 1 else f"The request has {len(found)} problem(s).",
            code="validation", errors=[{"loc": e.loc or "", "code": e.code, "message": e.message} for e in found],
        ) from exc
