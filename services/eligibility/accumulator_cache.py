"""An in-memory copy of the accumulators read copy, kept current by accumulators.applied.

The database copy is written by this service's consumer group, which splits the
partitions among replicas; the live feed gives every replica every update. An entry
is the database document as loaded plus every update the feed has delivered since:
updates are deltas deduplicated by adjudication id (domain/accumulators.py), so
applying one that the document already holds changes nothing, and the copy is never
behind the database while the feed is live.

An update delivered before its member's document was loaded (and before the consumer
group wrote it) is kept for `recent_seconds` and applied when the document is loaded.
Entries are reloaded after `max_age` regardless, and nothing is answered from memory
while the feed is not live (services/eligibility/feed.py).

The same cache serves the members' totals and the families' (one instance each):
only the fold of an update differs (`apply`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from services.eligibility.domain import AccumulatorUpdate, apply_accumulator_event
from services.eligibility.member_cache import READ_COPY_LOOKUPS

Totals = Any
"""Accumulators or FamilyAccumulators: whatever `apply` folds."""


class AccumulatorCache:
    def __init__(self, trusts: Callable[[float], bool], max_entries: int = 100_000, max_age: float = 30.0,
                 recent_seconds: float = 120.0, max_recent: int = 100_000, *,
                 apply: Callable[[Totals | None, AccumulatorUpdate], Totals] = apply_accumulator_event,
                 copy: str = "accumulators") -> None:
        self.trusts = trusts  # the feed's verdict on an entry loaded at a given moment
        self.apply = apply
        self._hit = READ_COPY_LOOKUPS.labels(copy, "hit")
        self._miss = READ_COPY_LOOKUPS.labels(copy, "miss")
        self.max_entries = max_entries
        self.max_age = max_age
        self.recent_seconds = recent_seconds
        self.max_recent = max_recent
        # key -> (accumulators or None when the database had none, loaded_at)
        self._entries: OrderedDict[str, tuple[Totals | None, float]] = OrderedDict()
        self._recent: OrderedDict[str, tuple[list[AccumulatorUpdate], float]] = OrderedDict()

    def get(self, key: str) -> tuple[bool, Totals | None]:
        """(hit, accumulators); on a miss the caller loads the document and calls put."""
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[1] > self.max_age or not self.trusts(entry[1]):
            self._miss.inc()
            return False, None
        self._hit.inc()
        return True, entry[0]

    def put(self, key: str, loaded: Totals | None, loaded_at: float) -> Totals | None:
        """Stores what was loaded plus the updates seen meanwhile; returns that."""
        current = loaded
        for update in self._recent.get(key, ([], 0.0))[0]:
            current = self.apply(current, update)
        self._entries[key] = (current, loaded_at)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return current

    def on_update(self, key: str, update: AccumulatorUpdate) -> None:
        now = time.monotonic()
        updates = self._recent.pop(key, ([], now))[0]
        updates.append(update)
        self._recent[key] = (updates, now)
        while self._recent and (len(self._recent) > self.max_recent
                                or now - next(iter(self._recent.values()))[1] > self.recent_seconds):
            self._recent.popitem(last=False)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries[key] = (self.apply(entry[0], update), entry[1])

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)
