"""The adjudication worker: a faust-streaming app over claims.events.

For each claim.received it decides (prices) once, records the decision, and
publishes claim.adjudicated on adjudication.events keyed by member id. Offsets move
only after the decision is recorded and the broker acknowledged the publication;
a poison event is parked on claims.events.dlq and the stream goes on.
"""

import logging

import faust
import orjson
from opentelemetry.trace import SpanKind
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception, wait_exponential_jitter

from contracts import topics
from contracts.envelope import CloudEvent, new_event
from contracts.events.adjudication import CLAIM_ADJUDICATED
from infra.consumer import describe_error, is_transient
from infra.kafka import faust_options
from infra.runtime import ServiceRuntime
from infra.telemetry import context_from_carrier, current_trace_carrier, tracer
from services.adjudication.decisions import DecisionBook
from services.adjudication.domain.fee_schedule import load_fee_schedule
from services.adjudication.settings import AdjudicationSettings
from services.claims.domain.events import CLAIM_RECEIVED

log = logging.getLogger(__name__)
SOURCE = "/services/adjudication"


def _raw_topic(app: faust.App, name: str) -> faust.TopicT:
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


def build_worker(settings: AdjudicationSettings | None = None) -> tuple[faust.App, ServiceRuntime]:
    settings = settings or AdjudicationSettings()
    runtime = ServiceRuntime(settings, with_event_store=False)
    app = faust.App(
        "adjudication",
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
        store="memory://",
        datadir=settings.faust_datadir,
        web_enabled=True,
        web_bind=settings.host,
        web_host=settings.host,
        web_port=settings.port,
        topic_partitions=settings.kafka_topic_partitions,
        topic_replication_factor=settings.kafka_topic_replication_factor,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=100,
        broker_commit_interval=0.5,
        topic_allow_declare=True,
        logging_config=None,
        **faust_options(settings),  # session, rebalance, request timeouts: infra/kafka.py
    )
    book = DecisionBook(runtime.db, load_fee_schedule())
    claims_topic = _raw_topic(app, topics.CLAIMS)
    decisions_topic = _raw_topic(app, topics.ADJUDICATION)
    dead_letters = _raw_topic(app, topics.dead_letter_topic(topics.CLAIMS))

    async def adjudicate(event: CloudEvent, headers: dict) -> None:
        if event.type != CLAIM_RECEIVED or event.data.get("frequency_code") == "8":
            return  # voids cancel a claim; there is nothing to price
        decision = await book.decide(event.data, event.aggregateversion or 1)
        outgoing = new_event(
            source=SOURCE, type=CLAIM_ADJUDICATED, subject=decision.claim_id, id=decision.adjudication_id,
            data=decision.to_data(), organizationid=event.organizationid,
            partitionkey=event.partitionkey or event.data.get("member_id"),
            correlationid=event.correlationid or decision.claim_id, causationid=event.id,
        )
        trace_headers = [(k, v.encode()) for k, v in current_trace_carrier().items()]
        delivery = await decisions_topic.send(
            key=(outgoing.partitionkey or decision.claim_id).encode(),
            value=orjson.dumps(outgoing.to_json_dict()),
            headers=trace_headers + [("ce_type", CLAIM_ADJUDICATED.encode()), ("ce_id", outgoing.id.encode())],
        )
        await delivery  # acknowledged by the broker before the offset may move

    async def park(value: bytes, key: bytes | None, headers: dict, exc: BaseException) -> None:
        delivery = await dead_letters.send(
            key=key, value=value,
            headers=list(headers.items()) + [
                ("dlq.error_type", type(exc).__name__.encode()), ("dlq.error", describe_error(exc).encode()),
                ("dlq.source_topic", topics.CLAIMS.encode()), ("dlq.consumer_group", b"adjudication"),
            ],
        )
        await delivery
        log.error("event dead-lettered", extra={"topic": topics.CLAIMS, "error_type": type(exc).__name__})

    @app.agent(claims_topic)
    async def claims_stream(stream):
        async for record in stream.events():
            headers = dict(record.headers or {})
            try:
                event = CloudEvent.model_validate(orjson.loads(record.value))
            except (ValueError, ValidationError) as exc:
                await park(record.value, record.key, headers, exc)
                continue
            carrier = {k: v.decode() for k, v in headers.items() if k in ("traceparent", "tracestate")}
            with tracer(__name__).start_as_current_span(
                f"adjudicate {event.type}", context=context_from_carrier(carrier), kind=SpanKind.CONSUMER, record_exception=False
            ):
                try:
                    # Transient failures (MongoDB, Kafka) are retried without end: the
                    # partition waits rather than skipping a claim.
                    async for attempt in AsyncRetrying(
                        retry=retry_if_exception(is_transient), wait=wait_exponential_jitter(0.05, 5.0), reraise=True
                    ):
                        with attempt:
                            await adjudicate(event, headers)
                except Exception as exc:  # noqa: BLE001 - not transient: poison for this worker
                    await park(record.value, record.key, headers, exc)

    @app.page("/healthz")
    async def healthz(web, request):
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web, request):
        checks = await runtime.readiness()
        ready = all(v == "ok" for v in checks.values())  # a stream worker without Kafka does nothing
        return web.json({"status": "ready" if ready else "not_ready", "checks": checks}, status=200 if ready else 503)

    @app.page("/metrics")
    async def metrics(web, request):
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.task
    async def start_runtime() -> None:
        await runtime.start()

    @app.on_before_shutdown.connect
    async def stop_runtime(app, **kwargs) -> None:
        await runtime.stop()

    return app, runtime

