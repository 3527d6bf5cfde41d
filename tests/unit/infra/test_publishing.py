"""Every publisher's records come from infra/publishing: key, value, headers, dead letters."""

import json

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel, ValidationError

from contracts.envelope import new_event
from infra.publishing import dead_letter_headers, describe_error, event_record, publishing_span
from infra.telemetry import carrier_from_kafka_headers


@pytest.fixture(scope="module", autouse=True)
def sdk_tracer():
    # A real SDK provider so spans have ids (the default provider's spans are invalid).
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())


def _event(**extra):
    return new_event(source="/services/test", type="claim.adjudicated", subject="C-1",
                     data={"claim_id": "C-1"}, partitionkey="M0000000001", **extra)


def test_an_event_is_keyed_by_partition_key_with_type_id_and_trace_headers():
    event = _event()
    with publishing_span(event.type) as carrier:
        record = event_record(event, carrier)
    headers = dict(record.headers)
    assert record.key == b"M0000000001"
    assert json.loads(record.value) == event.to_json_dict()
    assert headers["ce_type"] == b"claim.adjudicated" and headers["ce_id"] == event.id.encode()
    assert headers["traceparent"].decode().startswith("00-")


def test_a_dict_event_and_its_model_make_the_same_record():
    event = _event()
    carrier = {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    assert event_record(event, carrier) == event_record(event.to_json_dict(), carrier)


def test_key_falls_back_to_subject_then_the_given_key():
    body = _event().to_json_dict()
    del body["partitionkey"]
    assert event_record(body, {}).key == b"C-1"
    del body["subject"]
    assert event_record(body, {}, fallback_key="intent-7").key == b"intent-7"


def test_publishing_span_continues_a_stored_trace():
    stored = {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}
    with publishing_span("claim.received", stored) as carrier:
        record = event_record(_event(), carrier)
    traceparent = carrier_from_kafka_headers(record.headers)["traceparent"]
    assert traceparent.split("-")[1] == "a" * 32 and traceparent.split("-")[2] != "b" * 16


def test_publishing_span_without_a_stored_trace_continues_the_current_one():
    with trace.get_tracer("test").start_as_current_span("consume") as consuming:
        with publishing_span("claim.adjudicated") as carrier:
            pass
    assert carrier["traceparent"].split("-")[1] == format(consuming.get_span_context().trace_id, "032x")


class _Payload(BaseModel):
    date_of_birth: int


def test_dead_letter_headers_say_what_failed_and_where_without_the_values():
    try:
        _Payload.model_validate({"date_of_birth": "Zephyrine 1961-07-04"})
    except ValidationError as exc:
        error = exc
    headers = dead_letter_headers([("traceparent", b"00-x"), ("ce_type", b"member.enrolled")], error,
                                  topic="membership.events", partition=2, offset=41, group="adjudication-members")
    assert headers[:2] == [("traceparent", b"00-x"), ("ce_type", b"member.enrolled")]
    assert dict(headers[2:]) == {
        "dlq.error_type": b"ValidationError", "dlq.error": b"date_of_birth: int_parsing",
        "dlq.source_topic": b"membership.events", "dlq.source_partition": b"2", "dlq.source_offset": b"41",
        "dlq.consumer_group": b"adjudication-members",
    }
    assert b"Zephyrine" not in b"".join(v for _, v in headers)


def test_describe_error_for_a_body_that_is_not_json():
    import orjson

    with pytest.raises(orjson.JSONDecodeError) as caught:
        orjson.loads(b"{not json")
    assert describe_error(caught.value) == "body is not valid JSON"
