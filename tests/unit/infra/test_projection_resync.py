"""The projection base's ordering rules and its resynchronisation after a gap, and the
two member copies' folds through it, with an in-memory stand-in for the collection and
the topic (the real ones are exercised by tests/integration/test_claim_integrity.py)."""

from types import SimpleNamespace

import pytest
from pymongo.errors import DuplicateKeyError

from contracts.envelope import new_event
from contracts.events.membership import EVENT_TYPES
from contracts.registry import BY_TYPE
from infra import projection
from infra.consumer import TransientError, is_transient
from infra.projection import NotFoldable, VersionedProjection, compare_and_set
from services.adjudication.members import MemberCoverageCopy
from services.claims.members import MemberCopy

MEMBER = "M0000000042"
ENROLLED = {"member_id": MEMBER, "first_name": "Ann", "last_name": "Lee", "date_of_birth": "1980-02-03",
            "gender": "female", "plan_id": "silver-hmo-2026", "coverage_start": "2026-01-01", "coverage_end": None}
TERMINATED = {"member_id": MEMBER, "plan_id": "silver-hmo-2026", "coverage_start": "2026-01-01",
              "coverage_end": "2026-06-30", "previous_coverage_end": None}
REENROLLED = {"member_id": MEMBER, "plan_id": "gold-ppo-2026", "coverage_start": "2026-09-01", "coverage_end": None}


def event(version: int, event_type: str, data: dict, member: str = MEMBER):
    return new_event(source="/services/eligibility", type=event_type, subject=member, data=data,
                     aggregateversion=version, partitionkey=member)


def entry(e):
    return BY_TYPE[e.type].payload.model_validate(e.data), e


class Views:
    """The collection calls the base makes, on a dict (compare-and-set included)."""

    def __init__(self):
        self.docs: dict[str, dict] = {}

    async def find_one(self, query):
        return self.docs.get(query["_id"])

    async def insert_one(self, doc):
        if doc["_id"] in self.docs:
            raise DuplicateKeyError("duplicate _id")
        self.docs[doc["_id"]] = doc

    async def replace_one(self, query, doc):
        current = self.docs.get(query["_id"])
        field = next(k for k in query if k != "_id")
        if current is None or current.get(field) != query[field]:
            return SimpleNamespace(matched_count=0)
        self.docs[doc["_id"]] = doc
        return SimpleNamespace(matched_count=1)


class Types(VersionedProjection):
    """The smallest fold: the member's event types in order, started by an enrollment."""

    event_types = tuple(EVENT_TYPES)
    resync_topic = "membership.events"

    def key(self, payload, event):
        return payload.member_id

    def fold(self, current, payload, event):
        if current is None and event.type != "member.enrolled":
            return None
        return {"_id": payload.member_id, "types": [*(current or {}).get("types", []), event.type],
                "version": event.aggregateversion}


@pytest.fixture
def topic(monkeypatch):
    """membership.events as replay_key would read it back: the events published so far."""
    published: list = []

    async def replay_key(settings, name, key):
        assert name == "membership.events"
        return [e for e in published if e.partitionkey == key]

    monkeypatch.setattr(projection, "replay_key", replay_key)
    return published


async def publish_and_apply(copy, topic, *events):
    for e in events:
        topic.append(e)
        await copy.apply(*entry(e))


# ---------------------------------------------------------------- the base, pure


def test_refold_goes_over_a_hole_and_records_it():
    view = Types(Views()).refold(map(entry, [
        event(1, "member.enrolled", ENROLLED), event(3, "member.coverage_terminated", TERMINATED),
        event(4, "member.reenrolled", REENROLLED),
    ]))
    assert view["types"] == ["member.enrolled", "member.coverage_terminated", "member.reenrolled"]
    assert view["version"] == 4 and view["resynchronised"] is True and view["skipped_versions"] == [2]


def test_refold_takes_a_version_once_and_in_version_order():
    enrolled = event(1, "member.enrolled", ENROLLED)
    view = Types(Views()).refold(map(entry, [event(2, "member.reenrolled", REENROLLED), enrolled, enrolled]))
    assert view["types"] == ["member.enrolled", "member.reenrolled"] and view["skipped_versions"] == []


def test_refold_without_a_start_is_nothing():
    assert Types(Views()).refold(map(entry, [event(2, "member.reenrolled", REENROLLED)])) is None


# ---------------------------------------------------------------- the base, live


async def test_in_order_events_fold_and_redeliveries_change_nothing(topic):
    copy = Types(Views(), settings=object())
    enrolled, reenrolled = event(1, "member.enrolled", ENROLLED), event(2, "member.reenrolled", REENROLLED)
    await publish_and_apply(copy, topic, enrolled, reenrolled)
    await copy.apply(*entry(enrolled))
    view = await copy.get(MEMBER)
    assert view["types"] == ["member.enrolled", "member.reenrolled"] and "resynchronised" not in view


async def test_a_process_that_never_saw_the_view_takes_a_redelivered_first_event_as_reflected(topic):
    views = Views()
    enrolled, reenrolled = event(1, "member.enrolled", ENROLLED), event(2, "member.reenrolled", REENROLLED)
    await publish_and_apply(Types(views, settings=object()), topic, enrolled, reenrolled)
    # Another replica (nothing remembered) gets version 1 again: its insert without a read
    # fails on the key, it reads, and finds the event reflected.
    await Types(views, settings=object()).apply(*entry(enrolled))
    assert (await Types(views).get(MEMBER))["types"] == ["member.enrolled", "member.reenrolled"]


async def test_a_remembered_view_that_another_writer_moved_on_is_read_again(topic):
    views = Views()
    mine, theirs = Types(views, settings=object()), Types(views, settings=object())
    enrolled = event(1, "member.enrolled", ENROLLED)
    await publish_and_apply(mine, topic, enrolled)
    await theirs.apply(*entry(event(2, "member.reenrolled", REENROLLED)))  # mine still remembers version 1
    with pytest.raises(TransientError):
        await mine.apply(*entry(event(2, "member.reenrolled", REENROLLED)))
    await mine.apply(*entry(event(2, "member.reenrolled", REENROLLED)))  # the retry reads: already reflected
    assert (await mine.get(MEMBER))["types"] == ["member.enrolled", "member.reenrolled"]


async def test_a_gap_is_resynchronised_from_the_topic_and_the_copy_goes_on_live(topic):
    copy = Types(Views(), settings=object())
    topic.append(event(2, "member.coverage_terminated", {"member_id": MEMBER}))  # parked live: fails its contract
    await publish_and_apply(copy, topic, event(1, "member.enrolled", ENROLLED),
                            event(3, "member.reenrolled", REENROLLED))
    view = await copy.get(MEMBER)
    assert view["version"] == 3 and view["skipped_versions"] == [2]
    await publish_and_apply(copy, topic, event(4, "member.coverage_terminated", TERMINATED))
    assert (await copy.get(MEMBER))["types"][-1] == "member.coverage_terminated"


async def test_a_resynchronisation_reads_only_the_views_key(topic):
    copy = Types(Views(), settings=object())
    other = "M0000000043"
    topic.append(event(1, "member.enrolled", ENROLLED | {"member_id": other}, member=other))
    await publish_and_apply(copy, topic, event(1, "member.enrolled", ENROLLED), event(3, "member.reenrolled", REENROLLED))
    assert (await copy.get(MEMBER))["types"] == ["member.enrolled", "member.reenrolled"]
    assert await copy.get(other) is None


async def test_what_no_retry_can_change_is_poison_not_a_wait(topic):
    copy = Types(Views(), settings=object())
    with pytest.raises(NotFoldable) as first:  # the stream's first event, and not a start
        await publish_and_apply(copy, topic, event(1, "member.reenrolled", REENROLLED))
    with pytest.raises(NotFoldable) as gap:  # a gap with nothing on the topic to start from
        await publish_and_apply(copy, topic, event(3, "member.reenrolled", REENROLLED))
    assert not is_transient(first.value) and not is_transient(gap.value)


async def test_without_a_topic_to_resynchronise_from_a_gap_is_waited_for():
    copy = Types(Views())
    await copy.apply(*entry(event(1, "member.enrolled", ENROLLED)))
    with pytest.raises(TransientError):
        await copy.apply(*entry(event(3, "member.reenrolled", REENROLLED)))


async def test_compare_and_set_loses_to_a_writer_that_got_there_first():
    views = Views()
    assert await compare_and_set(views, None, {"_id": "k", "revision": 1}, field="revision")
    assert not await compare_and_set(views, None, {"_id": "k", "revision": 1}, field="revision")
    read = dict(views.docs["k"])
    assert await compare_and_set(views, read, {"_id": "k", "revision": 2}, field="revision")
    assert not await compare_and_set(views, read, {"_id": "k", "revision": 2, "late": True}, field="revision")
    assert views.docs["k"] == {"_id": "k", "revision": 2}


# ---------------------------------------------------------------- the two copies' folds


def copies():
    return [MemberCopy({"members": Views()}, object()), MemberCoverageCopy({"member_coverage": Views()}, object())]


@pytest.mark.parametrize("copy", copies(), ids=["claims", "adjudication"])
def test_each_copy_folds_a_history_with_a_hole(copy):
    view = copy.refold(map(entry, [event(1, "member.enrolled", ENROLLED),
                                   event(3, "member.coverage_terminated", TERMINATED),
                                   event(4, "member.reenrolled", REENROLLED)]))
    assert view["_id"] == MEMBER and view["version"] == 4 and view["skipped_versions"] == [2]
    assert view["date_of_birth"] == "1980-02-03"
    assert "Ann" not in repr(view) and "Lee" not in repr(view)


def test_claims_copy_fold():
    copy = MemberCopy({"members": Views()}, object())
    view = copy.refold(map(entry, [event(1, "member.enrolled", ENROLLED),
                                   event(3, "member.coverage_terminated", TERMINATED),
                                   event(4, "member.reenrolled", REENROLLED)]))
    assert view["segments"] == [{"start": "2026-01-01", "end": "2026-06-30"}, {"start": "2026-09-01", "end": None}]


async def test_adjudication_copy_fold_and_its_coverage(topic):
    copy = MemberCoverageCopy({"member_coverage": Views()}, object())
    await publish_and_apply(copy, topic, event(1, "member.enrolled", ENROLLED),
                            event(3, "member.coverage_terminated", TERMINATED))
    member = await copy.find(MEMBER.lower())
    assert member.version == 3
    assert [(p.plan_id, p.start.isoformat(), p.end and p.end.isoformat()) for p in member.periods] == [
        ("silver-hmo-2026", "2026-01-01", "2026-06-30")]
