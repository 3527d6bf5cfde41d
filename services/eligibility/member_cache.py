"""An in-memory copy of members' state for checks, kept current by membership.events.

The member streams are this service's own, and every change to one is published on
membership.events (outbox + relay). Each replica keeps a bounded copy of the members it
has read; the live feed (services/eligibility/feed.py) applies every newer event to the
copy, so a check needs no database read for a member it has seen.

When may a copy answer? Only while the feed is live: caught up with the topic as of a
fetch response younger than the feed's `stale_after` (2 s), and only for entries loaded
after the feed took its positions (feed.trusts). A write on another replica
reaches this copy after that replica's outbox relay has published it (at most its poll
interval, 0.2 s, when the writer is not the relay leader) plus the feed's fetch
(milliseconds when caught up). While the feed is not live (Kafka unreachable, still
catching up) every check reads the stream as before. An entry is also reloaded after
`max_age` whatever the feed says: the bound for the one case the feed cannot see, a
writer whose relay cannot reach Kafka while this replica can.

Races: an event delivered while its member is being loaded is remembered for a while
(`recent`), and a load that turns out older than it is not kept.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from prometheus_client import Counter

from services.eligibility.domain import InvalidEventSequence, Member, MemberEvent, apply


READ_COPY_LOOKUPS = Counter(
    "eligibility_read_copy_lookups_total", "Lookups in the in-memory read copies", ["copy", "outcome"]
)
_MEMBER_HIT = READ_COPY_LOOKUPS.labels("members", "hit")
_MEMBER_MISS = READ_COPY_LOOKUPS.labels("members", "miss")


class MemberCache:
    def __init__(self, trusts: Callable[[float], bool], max_entries: int = 100_000, max_age: float = 30.0,
                 recent_seconds: float = 60.0) -> None:
        self.trusts = trusts  # the feed's verdict on an entry loaded at a given moment
        self.max_entries = max_entries
        self.max_age = max_age
        self.recent_seconds = recent_seconds
        self._entries: OrderedDict[str, tuple[Member, float]] = OrderedDict()
        # member id -> (highest version seen on the feed, when): guards loads racing the feed.
        self._recent: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def get(self, member_id: str) -> Member | None:
        """The member if the copy may answer for it now; None means: load it."""
        entry = self._entries.get(member_id)
        if entry is None:
            _MEMBER_MISS.inc()
            return None
        member, loaded_at = entry
        if time.monotonic() - loaded_at > self.max_age or not self.trusts(loaded_at):
            _MEMBER_MISS.inc()
            return None
        _MEMBER_HIT.inc()
        return member

    def put(self, member: Member, loaded_at: float) -> None:
        """A member as loaded from its stream (or just written) at `loaded_at` (monotonic)."""
        seen = self._recent.get(member.member_id)
        if seen is not None and seen[0] > member.version:
            self._entries.pop(member.member_id, None)  # the feed already knows a newer version
            return
        current = self._entries.get(member.member_id)
        if current is not None and current[0].version > member.version:
            return
        self._entries[member.member_id] = (member, loaded_at)
        self._entries.move_to_end(member.member_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def on_event(self, member_id: str, version: int, event: MemberEvent) -> None:
        """An event from membership.events, in stream order per member (one partition per member)."""
        now = time.monotonic()
        self._recent[member_id] = (max(version, self._recent.get(member_id, (0, 0.0))[0]), now)
        self._recent.move_to_end(member_id)
        while self._recent and (len(self._recent) > self.max_entries
                                or now - next(iter(self._recent.values()))[1] > self.recent_seconds):
            self._recent.popitem(last=False)
        entry = self._entries.get(member_id)
        if entry is None:
            return
        member, loaded_at = entry
        if version <= member.version:
            return  # already in the copy (our own write, or a redelivery)
        if version != member.version + 1:
            del self._entries[member_id]  # a gap: reload on the next check
            return
        try:
            self._entries[member_id] = (apply(member, event), loaded_at)
        except InvalidEventSequence:
            del self._entries[member_id]

    def forget(self, member_id: str) -> None:
        self._entries.pop(member_id, None)
