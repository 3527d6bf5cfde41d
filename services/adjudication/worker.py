"""The adjudication worker: a faust-streaming app over claims.events.

For each claim.received it decides once (coverage from its own member copy, then
pricing), records the decision, and publishes claim.adjudicated on
adjudication.events keyed by member id. Offsets move only after the decision is
recorded and the broker acknowledged the publication; a poison event is parked on
claims.events.dlq and the stream goes on.

Records are built by infra/publishing, like every other publisher's: the same
envelope, ce_type / ce_id / traceparent headers and dead-letter description.

Logging stays the platform's JSON allow-list format: the worker is started with
mode's logging override off (serve()), so faust never replaces the root handlers
with its own (plain text that prints exception messages) nor redirects stdout.
"""

import asyncio
import logging
from collections.abc import Iterable, Mapping

import faust
import orjson
from opentelemetry.trace import SpanKind
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception, wait_exponential_jitter

from contracts import topics
from contracts.envelope import CloudEvent, new_event
from contracts.events.adjudication import ACCUMULATORS_APPLIED, AUTHORIZATION_UNITS_USED, CLAIM_ADJUDICATED
from contracts.events.claims import (
    CLAIM_INFO_REQUEST_ANSWERED,
    CLAIM_INFO_REQUEST_EXPIRED,
    CLAIM_RECEIVED,
    ClaimInfoRequestAnswered,
    ClaimInfoRequestExpired,
    ClaimReceived,
)
from contracts.identifiers import normalize_member_id
from infra.consumer import is_transient
from infra.kafka import faust_options
from infra.metrics import DEAD_LETTERS
from infra.publishing import dead_letter_headers, event_record, publishing_span
from infra.runtime import ServiceRuntime
from infra.telemetry import carrier_from_kafka_headers, context_from_carrier, tracer
from services.adjudication.adjudicator import Adjudicator
from services.adjudication.authorizations import AUTHORIZATIONS_GROUP, AuthorizationCopy
from services.adjudication.domain.reference import Reference
from services.adjudication.members import MEMBERS_GROUP, MemberCoverageCopy
from services.adjudication.metrics import record_decision_metrics
from services.adjudication.network import NETWORK_GROUP, NetworkCopy
from services.adjudication.settings import AdjudicationSettings

log = logging.getLogger(__name__)
SOURCE = "/services/adjudication"
GROUP = "adjudication"
# What adjudication decides on: a received claim, and the answer to an info request; and
# an info request's expiry, after which the claims service denies the claim (CO-16) and
# the decision in effect gives its accumulators and authorization units back.
DECIDED_ON = {CLAIM_RECEIVED: ClaimReceived, CLAIM_INFO_REQUEST_ANSWERED: ClaimInfoRequestAnswered,
              CLAIM_INFO_REQUEST_EXPIRED: ClaimInfoRequestExpired}


def _raw_topic(app: faust.App, name: str) -> faust.TopicT:
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


def _header_pairs(headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None) -> list[tuple[str, bytes]]:
    if headers is None:
        return []
    return list(headers.items()) if isinstance(headers, Mapping) else list(headers)


def build_worker(settings: AdjudicationSettings | None = None) -> tuple[faust.App, ServiceRuntime]:
    settings = settings or AdjudicationSettings()
    runtime = ServiceRuntime(settings, with_event_store=False)
    app = faust.App(
        GROUP,
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
        broker_commit_interval=settings.consumer_commit_interval_seconds,
        topic_allow_declare=True,
        logging_config=None,
        worker_redirect_stdouts=False,
        **faust_options(settings),  # session, rebalance, request timeouts: infra/kafka.py
    )
    members = MemberCoverageCopy(runtime.db, settings, lag_allowance_seconds=settings.member_copy_lag_allowance_seconds)
    network = NetworkCopy(runtime.db, settings, cache_seconds=settings.network_cache_seconds,
                          lag_allowance_seconds=settings.member_copy_lag_allowance_seconds)
    authorizations = AuthorizationCopy(runtime.db, settings)
    runtime.consumer(MEMBERS_GROUP, members.subscriptions())
    runtime.consumer(NETWORK_GROUP, network.subscriptions())
    runtime.consumer(AUTHORIZATIONS_GROUP, authorizations.subscriptions())
    reference = Reference.load()
    if settings.pend_charge_threshold is not None:
        reference = reference.with_pend_charge_threshold(settings.pend_charge_threshold)
    adjudicator = Adjudicator(runtime.db, reference, members, network, authorizations)
    claims_topic = _raw_topic(app, topics.CLAIMS)
    decisions_topic = _raw_topic(app, topics.ADJUDICATION)
    dead_letters = _raw_topic(app, topics.dead_letter_topic(topics.CLAIMS))

    async def publish(event_type: str, subject: str, event_id: str, data: dict, cause: CloudEvent, member_key: str):
        outgoing = new_event(
            source=SOURCE, type=event_type, subject=subject, id=event_id, data=data,
            organizationid=cause.organizationid, partitionkey=member_key,
            correlationid=cause.correlationid or subject, causationid=cause.id,
        )
        with publishing_span(event_type) as carrier:
            record = event_record(outgoing, carrier)
            return await decisions_topic.send(key=record.key, value=record.value, headers=record.headers)

    async def adjudicate(event: CloudEvent,
                         payload: ClaimReceived | ClaimInfoRequestAnswered | ClaimInfoRequestExpired) -> None:
        version = event.aggregateversion or 1
        if isinstance(payload, ClaimReceived):
            member_key = event.partitionkey or normalize_member_id(payload.member_id)
            result = await adjudicator.on_received(payload.to_data(), version)
        elif isinstance(payload, ClaimInfoRequestAnswered):
            member_key = event.partitionkey or ""
            result = await adjudicator.on_answered(payload.claim_id, member_key, version)
        else:
            member_key = event.partitionkey or ""
            expired = await adjudicator.on_expired(payload.claim_id, member_key, version)
            if expired is None:
                return  # never decided here: nothing counted, nothing to give back
            result = expired
        deliveries = []
        if result.decision is not None:
            decision = result.decision
            deliveries.append(await publish(CLAIM_ADJUDICATED, decision.claim_id, decision.adjudication_id,
                                            decision.to_data(), event, member_key))
        for update in result.accumulators:
            deliveries.append(await publish(
                ACCUMULATORS_APPLIED, update.member_id,
                result.effect_event_id("accumulators", update.adjudication_id, update.member_id, update.plan_year),
                update.model_dump(mode="json"), event, member_key))
        for used in result.authorization_units:
            deliveries.append(await publish(
                AUTHORIZATION_UNITS_USED, used.authorization_id,
                result.effect_event_id("units", used.adjudication_id, used.authorization_id),
                used.model_dump(mode="json"), event, member_key))
        for delivery in deliveries:
            await delivery  # acknowledged by the broker before the offset may move
        if not result.replayed:
            record_decision_metrics(result.decision, after_information=isinstance(payload, ClaimInfoRequestAnswered))

    async def park(record: faust.EventT, exc: BaseException) -> None:
        message = record.message
        delivery = await dead_letters.send(
            key=record.key, value=record.value,
            headers=dead_letter_headers(_header_pairs(record.headers), exc, topic=message.topic,
                                        partition=message.partition, offset=message.offset, group=GROUP),
        )
        await delivery
        DEAD_LETTERS.labels(settings.service_name, GROUP, message.topic).inc()
        log.error("event dead-lettered", exc_info=exc,
                  extra={"group": GROUP, "topic": message.topic, "partition": message.partition,
                         "offset": message.offset, "error_type": type(exc).__name__})

    async def handle(record: faust.EventT) -> None:
        try:
            event = CloudEvent.model_validate(orjson.loads(record.value))
            model = DECIDED_ON.get(event.type)
            if model is None:
                return
            # Validated against its contract before any decision: poison is parked.
            claim = model.model_validate(event.data)
        except (ValueError, ValidationError) as exc:
            await park(record, exc)
            return
        carrier = carrier_from_kafka_headers(_header_pairs(record.headers))
        with tracer(__name__).start_as_current_span(
            f"adjudicate {event.type}", context=context_from_carrier(carrier), kind=SpanKind.CONSUMER,
            record_exception=False,
        ):
            try:
                # Transient failures (MongoDB, Kafka) are retried without end: the
                # member's claims wait rather than one being skipped.
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception(is_transient), wait=wait_exponential_jitter(multiplier=0.05, max=5.0), reraise=True
                ):
                    with attempt:
                        await adjudicate(event, claim)
            except Exception as exc:  # noqa: BLE001 - not transient: poison for this worker
                await park(record, exc)

    async def in_order(records: list[faust.EventT]) -> None:
        for record in records:
            await handle(record)

    @app.agent(claims_topic)
    async def claims_stream(stream):
        # A batch at a time: one member's claims (one Kafka key) strictly in order,
        # different members' concurrently. Each claim waits on two database round trips
        # and the broker's ack; one at a time, that capped the worker at ~60 claims/s
        # while its CPU idled. The batch's offsets move only after every decision in it
        # is recorded and acknowledged (faust acks a taken batch when the next is asked for).
        async for records in stream.take_events(settings.adjudication_batch_size,
                                                within=settings.adjudication_batch_wait_seconds):
            by_member: dict[tuple[int, bytes | None], list[faust.EventT]] = {}
            for record in records:
                by_member.setdefault((record.message.partition, record.key), []).append(record)
            await asyncio.gather(*(in_order(group) for group in by_member.values()))

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


def worker_for(app: faust.App) -> faust.Worker:
    """A faust worker that leaves the process's logging as ServiceRuntime set it up.

    mode.Worker's default (override_logging) clears the root handlers and installs
    its own, which print exception messages (patient data) in plain text, whatever
    logging_config says; redirect_stdouts would turn every print into a log record.
    quiet silences the banner and the progress spinner (terminal escape codes).
    """
    worker = faust.Worker(app, override_logging=False, redirect_stdouts=False, quiet=True)
    worker.spinner = None
    return worker


def serve(app: faust.App) -> None:
    worker_for(app).execute_from_commandline()
