"""Enrollment use cases: each command loads the member's stream, decides, appends."""

import hashlib
import secrets
import time
from datetime import date

from contracts import topics
from contracts.envelope import new_event
from contracts.events.membership import EVENT_TYPES as MEMBER_EVENT_TYPES
from infra.audit import record_access
from infra.eventstore import ConcurrencyError, EventStore
from infra.http.auth import Principal
from infra.http.problems import Problem
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


def stream_of(member_id: str) -> str:
    return f"member-{member_id}"


def new_member_id(caller: str, idempotency_key: str | None) -> str:
    """Member ids look like the ones printed on ID cards: M + 10 digits.

    With an Idempotency-Key the id is derived from it, so a retried POST lands on the
    stream its first attempt created.
    """
    if idempotency_key:
        digest = hashlib.sha256(f"member:{caller}:{idempotency_key}".encode()).hexdigest()
        return "M" + str(int(digest[:16], 16) % 10**10).zfill(10)
    return "M" + str(secrets.randbelow(10**10)).zfill(10)


class Members:
    def __init__(self, store: EventStore, catalogue: Catalogue, cache: MemberCache | None = None,
                 audit_store: EventStore | None = None) -> None:
        self.store = store
        self.audit_store = audit_store or store
        self.catalogue = catalogue
        self.cache = cache

    async def load(self, member_id: str) -> Member | None:
        """The member from its stream: what commands decide on (never from the copy)."""
        loaded_at = time.monotonic()
        events = await self.store.load(stream_of(member_id))
        member = replay(event_from_payload(e["type"], e["data"]) for e in events)
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
        self, member_id: str, demographics: Demographics, plan_id: str, start: date, end: date | None
    ) -> tuple[Member, bool]:
        """Returns the member and whether this call created it."""
        existing = await self.load(member_id)
        if existing is not None:
            return existing, False
        events = _decide(lambda: enroll(member_id, demographics, plan_id, start, end, self.catalogue))
        try:
            member = await self._append(None, events)
        except ConcurrencyError:
            return await self.load(member_id), False
        return member, True

    async def terminate(self, member_id: str, coverage_end: date) -> Member | None:
        return await self._command(member_id, lambda m: terminate(m, coverage_end))

    async def change_plan(self, member_id: str, plan_id: str, effective: date) -> Member | None:
        return await self._command(member_id, lambda m: change_plan(m, plan_id, effective, self.catalogue))

    async def _command(self, member_id: str, decide) -> Member | None:
        for _ in range(5):  # optimistic concurrency: reload and decide again on a lost race
            member = await self.load(member_id)
            if member is None:
                return None
            events = _decide(lambda: decide(member))
            try:
                return await self._append(member, events)
            except ConcurrencyError:
                continue
        raise Problem(409, "The member changed concurrently; retry.", code="concurrent_update")

    async def _append(self, member: Member | None, events: list[MemberEvent]) -> Member:
        version = member.version if member else 0
        for domain_event in events:
            version += 1
            member = apply(member, domain_event)
            await self.store.append(
                stream_of(domain_event.member_id),
                topics.MEMBERSHIP,
                new_event(
                    source=SOURCE, type=domain_event.type, subject=domain_event.member_id,
                    data=domain_event.payload(), aggregateversion=version,
                    partitionkey=domain_event.member_id,
                ),
            )
        if self.cache is not None and member is not None:
            self.cache.put(member, time.monotonic())  # this replica reads its own writes at once
        return member


def _decide(decision):
    try:
        return decision()
    except DomainError as exc:
        raise Problem(
            422, str(exc.message), code="validation",
            errors=[{"loc": exc.loc or "", "code": exc.code, "message": exc.message}],
        ) from exc
