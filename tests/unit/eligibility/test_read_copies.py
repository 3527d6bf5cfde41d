"""The in-memory copies of members and accumulators (no I/O: the feed's liveness is a flag)."""

from datetime import date

from services.eligibility.accumulator_cache import AccumulatorCache
from services.eligibility.domain import AccumulatorUpdate, apply_accumulator_event, terminate
from services.eligibility.member_cache import MemberCache

from .support import enrolled


class Live:
    def __init__(self) -> None:
        self.value = True

    def __call__(self, loaded_at: float) -> bool:
        return self.value


def test_a_member_is_answered_from_memory_only_while_the_feed_is_live():
    live = Live()
    cache = MemberCache(live)
    member = enrolled("gold-hmo-2026", date(2026, 1, 1))
    cache.put(member, 0.0 + __import__("time").monotonic())
    assert cache.get("M100") == member
    live.value = False
    assert cache.get("M100") is None


def test_an_entry_is_reloaded_after_its_max_age_whatever_the_feed_says():
    cache = MemberCache(Live(), max_age=30.0)
    cache.put(enrolled("gold-hmo-2026", date(2026, 1, 1)), loaded_at=-1000.0)
    assert cache.get("M100") is None


def test_the_next_event_is_applied_and_a_gap_drops_the_entry():
    import time

    cache = MemberCache(Live())
    member = enrolled("gold-hmo-2026", date(2026, 1, 1))
    cache.put(member, time.monotonic())
    [ended] = terminate(member, date(2026, 3, 31))
    cache.on_event("M100", 2, ended)
    assert cache.get("M100").segments[-1].end == date(2026, 3, 31)
    cache.on_event("M100", 2, ended)  # a redelivery changes nothing
    assert cache.get("M100").version == 2
    cache.on_event("M100", 5, ended)  # versions 3 and 4 were missed
    assert cache.get("M100") is None


def test_a_load_older_than_an_event_the_feed_delivered_meanwhile_is_not_kept():
    import time

    cache = MemberCache(Live())
    member = enrolled("gold-hmo-2026", date(2026, 1, 1))
    [ended] = terminate(member, date(2026, 3, 31))
    cache.on_event("M100", 2, ended)  # arrives while the version-1 load is in flight
    cache.put(member, time.monotonic())
    assert cache.get("M100") is None


def update(adjudication_id: str, deductible: str) -> AccumulatorUpdate:
    return AccumulatorUpdate.model_validate({
        "member_id": "M100", "plan_id": "gold-hmo-2026", "plan_year": 2026, "deductible_applied": deductible,
        "out_of_pocket_applied": deductible, "claim_id": "C1", "adjudication_id": adjudication_id})


def test_accumulator_updates_seen_before_the_load_are_applied_once():
    import time

    cache = AccumulatorCache(Live())
    cache.on_update("M100:2026", update("A1", "100.00"))  # the document may or may not hold it yet
    cache.on_update("M100:2026", update("A2", "50.00"))
    in_database = apply_accumulator_event(None, update("A1", "100.00"))
    loaded = cache.put("M100:2026", in_database, time.monotonic())
    assert loaded.deductible_total == 150
    cache.on_update("M100:2026", update("A3", "25.00"))
    hit, current = cache.get("M100:2026")
    assert hit and current.deductible_total == 175


def test_no_accumulators_yet_is_a_hit_too():
    import time

    cache = AccumulatorCache(Live())
    assert cache.put("M100:2026", None, time.monotonic()) is None
    assert cache.get("M100:2026") == (True, None)
