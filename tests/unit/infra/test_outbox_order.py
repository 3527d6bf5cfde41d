"""The relay's batch order: insertion order across streams, version order within each."""

from infra.eventstore import _streams_in_version_order, intent_position


def intent(stream: str, version: int) -> dict:
    return {"_id": f"{stream}-{version}", "key": f"{stream}:{version:010d}", "stream": stream, "version": version}


def test_a_stream_out_of_version_order_is_put_back_in_its_own_positions():
    batch = [intent("a", 2), intent("b", 1), intent("a", 1), {"_id": "audit", "key": None, "committed": True}]
    ordered = _streams_in_version_order(batch)
    assert [i["_id"] for i in ordered] == ["a-1", "b-1", "a-2", "audit"]


def test_intents_written_before_they_carried_stream_and_version_are_read_from_their_key():
    assert intent_position({"key": "claim-x:0000000007"}) == ("claim-x", 7)
