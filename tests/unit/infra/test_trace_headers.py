from opentelemetry.sdk.trace import TracerProvider

from infra.telemetry import carrier_from_kafka_headers, context_from_carrier, current_trace_carrier, kafka_headers


def test_trace_context_survives_the_trip_through_kafka_headers():
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("http request") as span:
        carrier = current_trace_carrier()
    headers = kafka_headers(carrier, {"ce_type": "claim.received"})
    restored = carrier_from_kafka_headers(headers)
    assert "ce_type" not in restored
    with tracer.start_as_current_span("consume", context=context_from_carrier(restored)) as child:
        assert child.get_span_context().trace_id == span.get_span_context().trace_id
        assert child.parent.span_id == span.get_span_context().span_id

