"""What every publisher writes to Kafka, built in one place.

The outbox relay, the consumer runner's dead-letter path and the adjudication
stream worker (faust) each own their producer, but the records they write are made
here, so an event looks the same on every topic whoever published it:

- key: the event's partition key (the member id on member-centred topics), so one
  member's events stay in one partition, in order;
- value: the CloudEvent as JSON;
- headers: ce_type and ce_id (routers and DLQ tooling need not parse bodies) and
  the W3C trace context of the publishing span;
- a dead-lettered record: the original key, value and headers plus dlq.* headers
  that say what failed and where it was read, never the offending values (PHI).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from contracts.envelope import CloudEvent
from infra.telemetry import context_from_carrier, current_trace_carrier, kafka_headers, tracer

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class OutgoingRecord:
    key: bytes
    value: bytes
    headers: Headers


def event_record(
    event: CloudEvent | Mapping[str, Any], trace_carrier: Mapping[str, str], *, fallback_key: str | None = None
) -> OutgoingRecord:
    """The Kafka record of an event; fallback_key keys an event with neither partition key nor subject."""
    body = event.to_json_dict() if isinstance(event, CloudEvent) else dict(event)
    key = body.get("partitionkey") or body.get("subject") or fallback_key or body["id"]
    headers = kafka_headers(trace_carrier, {"ce_type": body["type"], "ce_id": body["id"]})
    return OutgoingRecord(key=str(key).encode(), value=orjson.dumps(body), headers=headers)


@contextmanager
def publishing_span(event_type: str, parent: Mapping[str, str] | None = None) -> Iterator[dict[str, str]]:
    """A producer span for one event; yields the trace carrier to write into its record.

    parent is a stored trace carrier (the outbox keeps the request's); without one
    the span continues the current context (a consumer publishing what it decided).
    """
    context = context_from_carrier(parent) if parent else None
    with tracer(__name__).start_as_current_span(
        f"publish {event_type}", context=context, kind=SpanKind.PRODUCER, record_exception=False
    ):
        yield current_trace_carrier()


def dead_letter_headers(
    headers: Iterable[tuple[str, bytes]] | None,
    exc: BaseException,
    *,
    topic: str,
    partition: int,
    offset: int,
    group: str,
) -> Headers:
    """The original record's headers plus what failed, where it was read and by whom."""
    return list(headers or ()) + [
        ("dlq.error_type", type(exc).__name__.encode()),
        ("dlq.error", describe_error(exc).encode()),
        ("dlq.source_topic", topic.encode()),
        ("dlq.source_partition", str(partition).encode()),
        ("dlq.source_offset", str(offset).encode()),
        ("dlq.consumer_group", group.encode()),
    ]


def describe_error(exc: BaseException) -> str:
    """The dead-letter header text for an error: what failed, never the offending values (PHI)."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in exc.errors())[:1000]
    if isinstance(exc, orjson.JSONDecodeError):
        return "body is not valid JSON"
    return f"{type(exc).__name__}: {str(exc)[:500]}"
