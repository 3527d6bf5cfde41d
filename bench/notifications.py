"""Webhooks: event -> first delivery attempt latency at an offered rate, and deliveries/s.

The events are produced onto authorizations.events by the bench itself (acks=all,
as a service's relay would), `authorization.overdue` for one registered organisation:
the intake and adjudication paths cannot offer 100 events/s on this machine (README:
~68 accepted claims/s), and this type costs no email, so the numbers are the
notifications path alone: Kafka -> fan-out (deliveries stored) -> dispatcher ->
signed POST to a receiver on loopback, which verifies every request with the
standardwebhooks library. Adjudication, which keeps a copy of authorizations, is
stopped for this part (it would only add its own writes); the part runs last.

- open loop: `webhook_rate` events/s for `webhook_seconds` to one endpoint; latency
  from the event's time (stamped just before producing) to the receiver's first request
  of its webhook-id (p50 / p99 / max), and how many arrived within `webhook_wait`;
- burst: `webhook_burst_events` events as fast as they can be produced, to
  `webhook_burst_endpoints` endpoints each: deliveries (2xx answers) per second from
  the first event produced to the last delivery.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaProducer

from bench.context import Context, log
from bench.stats import CpuMeter, Latencies, top_cpu
from contracts import topics
from contracts.envelope import new_event
from tests.support.webhooks import Receiver, create_endpoint

EVENT_TYPE = "authorization.overdue"


def synthetic_event(org_id: str, n: int) -> tuple[bytes, bytes, str]:
    """(key, value, event id): a valid authorization.overdue of the organisation; made-up ids only."""
    member = f"BENCH{n % 500:06d}"
    authorization_id = str(uuid.uuid4())
    event = new_event(
        source="/bench/notifications", type=EVENT_TYPE, subject=authorization_id, aggregateversion=1,
        organizationid=org_id, partitionkey=member, time=datetime.now(UTC),
        data={"authorization_id": authorization_id, "member_id": member, "organization_id": org_id,
              "at": datetime.now(UTC).isoformat()},
    )
    return member.encode(), orjson.dumps(event.to_json_dict()), event.id


async def _produce(producer: AIOKafkaProducer, org_id: str, count: int, rate: float | None) -> dict[str, float]:
    """Events produced (at `rate`/s, or as fast as possible); event id -> when it was stamped."""
    sent: dict[str, float] = {}
    started = time.monotonic()
    pending = []
    for n in range(count):
        if rate:
            due = started + n / rate
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
        key, value, event_id = synthetic_event(org_id, n)
        sent[event_id] = time.time()
        pending.append(await producer.send(topics.AUTHORIZATIONS, value, key=key))
        if len(pending) >= 200:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    return sent


def _webhook_time(received) -> float:
    return datetime.fromisoformat(received.payload["timestamp"].replace("Z", "+00:00")).timestamp()


async def run(ctx: Context) -> dict:
    stack = ctx.stack.stack
    if stack.is_running("adjudication"):
        await asyncio.to_thread(stack.stop_service, "adjudication")
    org = await ctx.platform.new_organization(in_network_for=[])
    producer = AIOKafkaProducer(bootstrap_servers=ctx.stack.bootstrap, acks="all", enable_idempotence=True,
                                linger_ms=2)
    await producer.start()
    results: dict = {"event_type": EVENT_TYPE}
    receivers: list[Receiver] = []
    try:
        # ---------------------------------------------------------------- open loop
        receiver = await Receiver().start()
        receivers.append(receiver)
        endpoint = await create_endpoint(org.client, receiver.url, [EVENT_TYPE])
        receiver.secret = endpoint["secret"]
        count = int(ctx.profile.webhook_rate * ctx.profile.webhook_seconds)
        log(f"webhooks: {count} events at {ctx.profile.webhook_rate:g}/s to one endpoint")
        before = ctx.cpu.snapshot()
        sent = await _produce(producer, org.organization_id, count, ctx.profile.webhook_rate)
        deadline = time.monotonic() + ctx.profile.webhook_wait
        while len(receiver.delivered()) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        cpu = CpuMeter.delta(before, ctx.cpu.snapshot())
        latency = Latencies()
        first_request: dict[str, float] = {}
        for r in receiver.received:
            first_request.setdefault(r.webhook_id, r.at - _webhook_time(r) if r.payload else None)
        for lag in first_request.values():
            if lag is not None:
                latency.record(max(lag, 0.0))
        results["open_loop"] = {
            "offered_per_s": ctx.profile.webhook_rate, "events": len(sent), "delivered": len(receiver.delivered()),
            "unverified_requests": len(receiver.unverified()),
            "event_to_first_attempt": latency.summary(),
            "cpu_ms_per_delivery": {k: round(v * 1000 / max(len(receiver.delivered()), 1), 2)
                                    for k, v in list(cpu["cpu_s"].items())[:5]},
            "busiest": top_cpu(cpu, 4),
        }
        log(f"webhooks open loop: {results['open_loop']}")

        # ---------------------------------------------------------------- burst
        burst = ctx.profile.webhook_burst_events
        n_endpoints = ctx.profile.webhook_burst_endpoints
        await org.client.delete(f"/v1/webhooks/endpoints/{endpoint['endpoint_id']}")
        burst_receivers = [await Receiver().start() for _ in range(n_endpoints)]
        receivers.extend(burst_receivers)
        for r in burst_receivers:
            r.secret = (await create_endpoint(org.client, r.url, [EVENT_TYPE]))["secret"]
        log(f"webhooks: a burst of {burst} events to {n_endpoints} endpoints")
        before = ctx.cpu.snapshot()
        started = time.time()
        await _produce(producer, org.organization_id, burst, None)
        produced_s = time.time() - started
        want = burst * n_endpoints
        deadline = time.monotonic() + ctx.profile.webhook_wait
        while sum(len(r.delivered()) for r in burst_receivers) < want and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        cpu = CpuMeter.delta(before, ctx.cpu.snapshot())
        delivered = sum(len(r.delivered()) for r in burst_receivers)
        last = max((x.at for r in burst_receivers for x in r.received), default=started)
        results["burst"] = {
            "events": burst, "endpoints": n_endpoints, "deliveries_wanted": want, "delivered": delivered,
            "produce_s": round(produced_s, 2), "first_event_to_last_delivery_s": round(last - started, 2),
            "deliveries_per_s": round(delivered / max(last - started, 1e-9), 1),
            "cpu_ms_per_delivery": {k: round(v * 1000 / max(delivered, 1), 2) for k, v in list(cpu["cpu_s"].items())[:5]},
            "busiest": top_cpu(cpu, 4),
        }
        log(f"webhooks burst: {results['burst']}")
    finally:
        await producer.stop()
        for r in receivers:
            await r.stop()
        await org.client.aclose()
    ctx.results["notifications"] = results
    return results

