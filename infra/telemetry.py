"""Tracing set up once per process, and W3C trace context carried in Kafka headers.

Spans never record exceptions (record_exception=False everywhere): exception messages
can quote request input, which may be patient data.

One trace spans HTTP -> event store -> relay -> Kafka -> consumer: the request's
traceparent is stored with the event (the relay publishes later, in another task) and
written into the Kafka message headers; consumers continue the trace from there.
"""

from collections.abc import Iterable, Mapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_configured = False
memory_exporter: InMemorySpanExporter | None = None


def configure_tracing(service: str, exporter: str = "none") -> None:
    global _configured, memory_exporter
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    chosen: SpanExporter | None = None
    if exporter == "otlp":
        # Endpoint and headers come from the standard OTEL_EXPORTER_OTLP_* variables.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        chosen = OTLPSpanExporter()
    elif exporter == "console":
        chosen = ConsoleSpanExporter()
    elif exporter == "memory":
        memory_exporter = InMemorySpanExporter()
        chosen = memory_exporter
    if chosen is not None:
        processor = BatchSpanProcessor(chosen) if exporter == "otlp" else SimpleSpanProcessor(chosen)
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _configured = True


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def current_trace_carrier() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from_carrier(carrier: Mapping[str, str]) -> Context:
    return propagate.extract(dict(carrier))


def kafka_headers(carrier: Mapping[str, str], extra: Mapping[str, str] | None = None) -> list[tuple[str, bytes]]:
    headers = [(k, v.encode()) for k, v in carrier.items()]
    if extra:
        headers.extend((k, v.encode()) for k, v in extra.items())
    return headers


def carrier_from_kafka_headers(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, str]:
    carrier: dict[str, str] = {}
    for key, value in headers or ():
        if key in ("traceparent", "tracestate", "baggage") and value is not None:
            carrier[key] = value.decode(errors="replace")
    return carrier


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
