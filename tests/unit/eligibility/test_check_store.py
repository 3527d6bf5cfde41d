from datetime import UTC, datetime, timedelta

from services.eligibility.check_store import collection_for, created_at, new_check_id


def test_a_check_id_is_a_uuid7_carrying_its_creation_time():
    now = datetime(2026, 12, 1, 20, 59, 59, 999000, tzinfo=UTC)
    check_id = new_check_id(now)
    assert check_id[14] == "7"
    assert created_at(check_id) == now
    assert collection_for(created_at(check_id)) == "checks_2026120120"
    assert new_check_id(now) != check_id


def test_other_ids_have_no_creation_time():
    assert created_at("3f0c8a4e-0a5b-4d1e-9a51-2f4b1c2d3e4f") is None  # a v4 check id from before
    assert created_at("not an id") is None
    assert created_at("x" * 5000) is None
    assert created_at("ffffffff-ffff-7fff-bfff-ffffffffffff") is None  # past year 9999


def test_hours_are_named_in_utc():
    moment = datetime(2026, 12, 1, 23, 30, tzinfo=UTC).astimezone(tz=__import__("datetime").timezone(timedelta(hours=5)))
    assert collection_for(moment) == "checks_2026120123"
