"""Claims pipeline: intake at rising concurrency, then submit -> final status end to end.

The claims are the mix of bench/mix.py (clean in-network claims, pends, denials),
decided by the full adjudication engine. `final` is detected without asking the API:
an independent, group-less aiokafka consumer reads claims.events from its end offsets
at start and notes when each claim's claim.processed, claim.denied or
claim.info_requested (a pend: final for the throughput measure, reported apart)
arrives. Submit times are taken in the same process just before each POST, so both
clocks are the same.

The auto-adjudication rate of the end-to-end phase comes from the worker's own
counters (adjudication_decisions_total{outcome,path} on its /metrics, before and
after); CPU per claim is reported for every process of the stack.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from datetime import date, timedelta

import bson
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo.errors import PyMongoError

from bench import mix as claim_mix
from bench.context import Context, log
from bench.lag import consumer_lag
from bench.load import closed_loop
from bench.stackctl import DATABASE_PREFIX
from bench.stats import CpuMeter, Latencies, scrape_adjudication_decisions
from contracts import topics
from contracts.identifiers import normalize_member_id
from infra.mongo import create_client
from infra.settings import PlatformSettings
from tests.support.client import Organization, claim_body
from tests.support.waiting import eventually

DECIDED = {b"claim.processed", b"claim.denied", b"claim.info_requested"}
STATUS_OF = {"claim.processed": "processed", "claim.denied": "denied", "claim.info_requested": "info_requested"}


class ClaimWatcher:
    """Notes the arrival time of every claim's final event (processed, denied, info_requested) on claims.events."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.decided: dict[str, tuple[float, str]] = {}
        self.paid: dict[str, float] = {}
        self.received_seen = 0
        self.sample_received = None  # (value bytes, headers, key) of one claim.received
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100
        )
        await consumer.start()
        self._consumer = consumer

        async def partitions():
            # The services create their topics in the background right after start.
            await consumer._client.force_metadata_update()  # noqa: SLF001 - as tests/support/kafka.py does
            return consumer.partitions_for_topic(topics.CLAIMS)

        found = await eventually(partitions, timeout=60, interval=0.5, what=f"{topics.CLAIMS} to exist")
        tps = [TopicPartition(topics.CLAIMS, p) for p in sorted(found)]
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, end[tp])
        self._task = asyncio.create_task(self._run(), name="claim-watcher")

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=2000)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    headers = dict(record.headers or ())
                    kind = headers.get("ce_type")
                    if kind == b"claim.received":
                        self.received_seen += 1
                        if self.sample_received is None:
                            self.sample_received = (record.value, list(record.headers or ()), record.key)
                    elif kind in DECIDED:
                        subject = orjson.loads(record.value)["subject"]
                        self.decided.setdefault(subject, (now, kind.decode()))
                    elif kind == b"claim.paid":
                        self.paid.setdefault(orjson.loads(record.value)["subject"], now)

    async def wait_for(self, claim_ids: list[str], timeout: float) -> int:
        """Waits until every claim is decided or the timeout; returns how many are still missing."""
        deadline = time.perf_counter() + timeout
        while True:
            missing = sum(1 for c in claim_ids if c not in self.decided)
            if not missing or time.perf_counter() > deadline:
                return missing
            if self._task is not None and self._task.done():
                self._task.result()  # surface the watcher's error
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()


def claim_for(org: Organization, member: dict, n: int) -> dict:
    """Two lines like the tests' claim; the charge varies with n so no claim is a duplicate of another."""
    dos = (date.today() - timedelta(days=7)).isoformat()
    charge = f"{100 + n / 100:.2f}"
    return claim_body(org, member, lines=[
        {"procedure_code": "99213", "modifiers": [], "units": 1, "charge_amount": charge,
         "date_of_service": dos, "place_of_service": "11", "diagnosis_pointers": [1, 2]},
        {"procedure_code": "83036", "modifiers": [], "units": 1, "charge_amount": "45.00",
         "date_of_service": dos, "place_of_service": "11", "diagnosis_pointers": [1]},
    ])  # fmt: skip


async def setup_org_with_members(ctx: Context, count: int) -> tuple[Organization, list[dict]]:
    org = await ctx.platform.new_organization()
    members = [await ctx.platform.new_member(plan_id=claim_mix.PLAN, dob=f"19{60 + i % 40}-0{1 + i % 9}-1{i % 10}")
               for i in range(count)]
    return org, members


async def setup_mix(ctx: Context, count: int) -> tuple[claim_mix.ClaimMix, list[dict]]:
    """The mix's organisations (in network for every plan; for the PPO only) and `count` members."""
    mix = await claim_mix.create(ctx.platform)
    members = [await ctx.platform.new_member(plan_id=claim_mix.PLAN, dob=f"19{60 + i % 40}-0{1 + i % 9}-1{i % 10}")
               for i in range(count)]
    await wait_until_adjudication_knows(ctx, [mix.in_network, mix.out_of_network], members)
    return mix, members


async def wait_until_adjudication_knows(ctx: Context, orgs: list[Organization], members: list[dict]) -> None:
    """Adjudication's copies of the contracts (network.events) and the members (membership.events).

    A claim that arrives before them waits a moment and is then judged out of network
    (CO-242) or for an unknown member (CO-31): the mix would not be the mix.
    """
    mongo = create_client(PlatformSettings(mongodb_uri=ctx.stack.mongodb_uri))
    db = mongo[f"{DATABASE_PREFIX}adjudication"]
    org_ids = [o.organization_id for o in orgs]
    member_ids = [normalize_member_id(m["member_id"]) for m in members]
    try:
        async def known():
            contracts = await db["network_contracts"].count_documents({"_id": {"$in": org_ids}})
            coverage = await db["member_coverage"].count_documents({"_id": {"$in": member_ids}})
            return contracts == len(org_ids) and coverage == len(member_ids)

        await eventually(known, timeout=60, interval=0.2, what="adjudication's copies of the contracts and members")
    finally:
        await mongo.close()


async def wait_until_claims_knows(client: httpx.AsyncClient, org: Organization, members: list[dict]) -> None:
    """The claims service learns members from membership.events; a claim validates once it has."""
    for member in members:
        async def valid(member=member):
            response = await client.post("/v1/claims/validate", json=claim_for(org, member, 0))
            return response.status_code == 200 or None

        await eventually(valid, timeout=60, interval=0.2, what=f"claims service to know member {member['member_id']}")


async def capture_stored_event(ctx: Context) -> None:
    """One stored claim.received document (event + outbox fields) for the MongoDB baseline."""
    mongo = create_client(PlatformSettings(mongodb_uri=ctx.stack.mongodb_uri))
    try:
        doc = await mongo[f"{DATABASE_PREFIX}claims"]["events"].find_one({"type": "claim.received"})
    finally:
        await mongo.close()
    if doc is not None:
        ctx.samples["stored_event"] = doc
        ctx.samples["stored_event_bytes"] = len(bson.encode(doc))


async def collection_sizes(ctx: Context) -> dict:
    """Documents in the collections the pipeline queries (FerretDB v1 scans them: size matters)."""
    mongo = create_client(PlatformSettings(mongodb_uri=ctx.stack.mongodb_uri))
    try:
        sizes = {}
        for db, coll in (("claims", "events"), ("claims", "claim_status"), ("adjudication", "decisions")):
            sizes[f"{db}.{coll}"] = await mongo[f"{DATABASE_PREFIX}{db}"][coll].estimated_document_count()
        return sizes
    except PyMongoError:
        return {}
    finally:
        await mongo.close()


async def ledger_sizes(ctx: Context) -> dict:
    """Adjudication's policy ledgers: how many, claims per ledger and BSON bytes (mean, max).

    Every decision rewrites its policy's whole ledger document (one compare-and-set),
    so its size is what a decision costs FerretDB, and it grows with the policy's claims.
    """
    mongo = create_client(PlatformSettings(mongodb_uri=ctx.stack.mongodb_uri))
    try:
        docs = await mongo[f"{DATABASE_PREFIX}adjudication"]["ledgers"].find({}).to_list(None)
    except PyMongoError:
        return {}
    finally:
        await mongo.close()
    if not docs:
        return {"ledgers": 0}
    claims = [len(d.get("claims", [])) for d in docs]
    sizes = [len(bson.encode(d)) for d in docs]
    return {"ledgers": len(docs), "claims_per_ledger_mean": round(sum(claims) / len(docs), 1),
            "claims_per_ledger_max": max(claims), "bytes_mean": round(sum(sizes) / len(docs)),
            "bytes_max": max(sizes)}


def per_claim(cpu: dict, claims: int, n: int | None = 4) -> dict:
    """CPU milliseconds per accepted claim of the busiest processes (n=None: every process)."""
    if not claims:
        return {}
    return {name: round(secs / claims * 1000, 1) for name, secs in list(cpu["cpu_s"].items())[:n] if secs}


def stack_cpu_ms(per_process: dict) -> float | None:
    """CPU ms per claim of all the stack's processes together (the bench client left out)."""
    values = [v for k, v in per_process.items() if k != "bench-client"]
    return round(sum(values), 1) if values else None


def auto_adjudication(before: dict[tuple[str, str], float], after: dict[tuple[str, str], float],
                      gauge: float | None) -> dict:
    """Decisions between two scrapes of adjudication_decisions_total, by path, and auto / all."""
    added = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in after}
    by_path: dict[str, int] = {}
    by_outcome: dict[str, int] = {}
    for (outcome, path), n in added.items():
        if n > 0:
            by_path[path] = by_path.get(path, 0) + int(n)
            by_outcome[outcome] = by_outcome.get(outcome, 0) + int(n)
    decided = sum(by_path.values())
    return {"decisions": decided, "by_path": by_path, "by_outcome": by_outcome,
            "ratio": round(by_path.get("auto", 0) / decided, 3) if decided else None,
            "expected_ratio_of_mix": claim_mix.EXPECTED_AUTO_RATE,
            "worker_gauge_since_start": gauge}


async def run(ctx: Context) -> dict:
    p = ctx.profile
    out: dict = {"levels": []}
    ctx.results["claims"] = out
    mix, members = await setup_mix(ctx, p.members)
    clients = await claim_mix.MixClients.open(mix, ctx.client_for, connections=max(p.levels) * 2)
    client = clients.main
    org = mix.in_network
    watcher = ClaimWatcher(ctx.stack.bootstrap)
    adjudication_metrics = f"{ctx.stack.service_url('adjudication').rstrip('/')}/metrics"
    try:
        await wait_until_claims_knows(client, org, members)
        await watcher.start()
        log(f"claims: organisations {org.organization_id} (in network) and {mix.out_of_network.organization_id} "
            f"(out of network for {claim_mix.PLAN}) with {len(members)} members ready")

        submitted: dict[str, float] = {}
        kind_of: dict[str, str] = {}
        phase: list[str] = []
        first_error: dict = {}
        numbers = itertools.count(1)

        async def submit(n: int) -> int:
            kind, sender, body = mix.claim(n, members[n % len(members)])
            t0 = time.perf_counter()
            response = await clients.for_org(sender).post("/v1/claims", json=body,
                                                          headers={"Idempotency-Key": str(uuid.uuid4())})
            if response.status_code == 201:
                claim_id = response.json()["claim_id"]
                submitted[claim_id] = t0
                kind_of[claim_id] = kind
                phase.append(claim_id)
            elif not first_error:
                first_error.update(status=response.status_code, body=response.text[:500])
            return response.status_code

        warm = await closed_loop(submit, 4, expected=201, total=p.warmup_claims, numbers=numbers)
        missing = await watcher.wait_for(list(phase), p.drain_timeout)
        out["warmup"] = {**warm.as_dict(), "unprocessed_after_drain": missing}
        log(f"claims: warm-up {warm.outcomes.ok} accepted, {missing} not processed after drain")

        for concurrency in p.levels:
            phase.clear()
            sizes = await collection_sizes(ctx)
            before = ctx.cpu.snapshot()
            started = time.perf_counter()
            result = await closed_loop(
                submit, concurrency, expected=201, total=p.level_claims, seconds=p.level_seconds, numbers=numbers
            )
            cpu = CpuMeter.delta(before, ctx.cpu.snapshot())
            ids = list(phase)
            missing = await watcher.wait_for(ids, p.drain_timeout)
            done = [watcher.decided[c][0] for c in ids if c in watcher.decided]
            processed_span = (max(done) - started) if done else None
            level = {
                **result.as_dict(),
                "collections_before": sizes,
                "cpu": cpu,
                "cpu_ms_per_claim": per_claim(cpu, result.outcomes.ok),
                "processed": len(done),
                "unprocessed_after_drain": missing,
                "drain_s": round(time.perf_counter() - started - result.elapsed, 2),
                # accepted claims of this level / (level start -> last of them processed)
                "processed_per_s": round(len(done) / processed_span, 1) if processed_span else None,
                "consumer_group_lag_after_drain": await consumer_lag(ctx.stack.bootstrap),
            }
            out["levels"].append(level)
            log(f"claims: c={concurrency:<3} {result.rate:6.1f} accepted/s, errors {dict(result.outcomes.errors)}, "
                f"p50 {level['latency']['p50_ms']} ms; processed {level['processed_per_s']}/s, "
                f"{missing} unprocessed after {p.drain_timeout:.0f}s drain; CPU ms/claim {level['cpu_ms_per_claim']}; "
                f"lag {level['consumer_group_lag_after_drain']}; collections {sizes}")  # fmt: skip

        best = max(out["levels"], key=lambda lv: lv["ok_per_s"]) if out["levels"] else None
        ctx.best_concurrency = best["concurrency"] if best else 16
        out["best_concurrency"] = ctx.best_concurrency
        out["best_accepted_per_s"] = best["ok_per_s"] if best else None

        # End to end: up to e2e_claims claims (or e2e_submit_seconds) as fast as the best level goes,
        # from a pipeline that has (as far as settle_seconds allows) finished the levels' backlog.
        backlog = [c for c in submitted if c not in watcher.decided]
        if backlog:
            log(f"claims: a backlog of {len(backlog)} claims is still being processed; settling")
        out["settle_before_end_to_end"] = await ctx.settle(p.settle_seconds)
        backlog_left = sum(1 for c in backlog if c not in watcher.decided)
        phase.clear()
        sizes = await collection_sizes(ctx)
        ledgers_before = await ledger_sizes(ctx)
        log(f"claims: end to end, up to {p.e2e_claims} claims / {p.e2e_submit_seconds:.0f}s at concurrency "
            f"{ctx.best_concurrency}")  # fmt: skip
        decisions_before, _ = await scrape_adjudication_decisions(client, adjudication_metrics)
        before = ctx.cpu.snapshot()
        started = time.perf_counter()
        result = await closed_loop(submit, ctx.best_concurrency, expected=201, total=p.e2e_claims,
                                   seconds=p.e2e_submit_seconds, numbers=numbers)  # fmt: skip
        ids = list(phase)
        missing = await watcher.wait_for(ids, p.e2e_wait)
        cpu = CpuMeter.delta(before, ctx.cpu.snapshot())
        decisions_after, gauge = await scrape_adjudication_decisions(client, adjudication_metrics)
        lag = await consumer_lag(ctx.stack.bootstrap)
        waited_until = time.perf_counter()
        latency, censored = Latencies(), Latencies()
        done, kinds, decided_done = [], {}, []
        sent: dict[str, int] = {}
        unexpected: dict[str, dict[str, int]] = {}
        for claim_id in ids:
            mix_kind = kind_of[claim_id]
            sent[mix_kind] = sent.get(mix_kind, 0) + 1
            if claim_id in watcher.decided:
                at, kind = watcher.decided[claim_id]
                done.append(at)
                kinds[kind] = kinds.get(kind, 0) + 1
                if kind != "claim.info_requested":
                    decided_done.append(at)
                if STATUS_OF[kind] != claim_mix.EXPECTED[mix_kind]:
                    odd = unexpected.setdefault(mix_kind, {})
                    odd[STATUS_OF[kind]] = odd.get(STATUS_OF[kind], 0) + 1
                latency.record(at - submitted[claim_id])
                censored.record(at - submitted[claim_id])
            else:  # not final yet: it took at least this long
                censored.record(waited_until - submitted[claim_id])
        span = (max(done) - started) if done else None
        cpu_per_claim = per_claim(cpu, len(done), n=None)
        out["end_to_end"] = {
            "claims_asked": p.e2e_claims,
            "concurrency": ctx.best_concurrency,
            "backlog_before": backlog_left,
            "collections_before": sizes,
            "ledgers_before": ledgers_before,
            "ledgers_after": await ledger_sizes(ctx),
            "accepted": result.outcomes.ok,
            "accepted_per_s": round(result.rate, 1),
            "submit_errors": dict(result.outcomes.errors),
            "decided": kinds,
            "mix_sent": sent,
            "pended": kinds.get("claim.info_requested", 0),
            "unexpected_outcomes": unexpected,
            "not_processed_in_time": missing,
            # Final (processed, denied or pended) claims / (phase start -> the last of them final).
            "processed_per_s": round(len(done) / span, 1) if span else None,
            "decided_without_pend_per_s": round(len(decided_done) / span, 1) if span else None,
            "auto_adjudication": auto_adjudication(decisions_before, decisions_after, gauge),
            "submit_latency": result.outcomes.latency.summary(),
            "submit_to_processed": latency.summary(),
            "submit_to_processed_with_censored": censored.summary(),
            "cpu": cpu,
            "cpu_ms_per_claim": cpu_per_claim,
            "cpu_ms_per_claim_stack_total": stack_cpu_ms(cpu_per_claim),
            "consumer_group_lag_after": lag,
        }
        if first_error:
            out["first_error"] = first_error
        e2e = out["end_to_end"]
        log(f"claims: end to end {e2e['accepted']} accepted, {e2e['processed_per_s']} final/s ({kinds}), "
            f"submit->final p50 {e2e['submit_to_processed']['p50_ms']} ms p99 {e2e['submit_to_processed']['p99_ms']} ms, "
            f"{missing} not final after {p.e2e_wait:.0f}s; auto-adjudication {e2e['auto_adjudication']['ratio']}; "
            f"unexpected outcomes {unexpected}; CPU ms/claim {e2e['cpu_ms_per_claim']} "
            f"(stack {e2e['cpu_ms_per_claim_stack_total']}); consumer-group lag {lag}")  # fmt: skip

        if watcher.sample_received is not None:
            value, headers, key = watcher.sample_received
            ctx.samples["received_message"] = watcher.sample_received
            out["claim_received_message_bytes"] = {
                "value": len(value), "key": len(key or b""), "headers": sum(len(k) + len(v) for k, v in headers),
            }
        await capture_stored_event(ctx)
        out["stored_event_bytes"] = ctx.samples.get("stored_event_bytes")
        out["collections_after"] = await collection_sizes(ctx)
        return out
    finally:
        await watcher.stop()
        await clients.aclose()
        await mix.close()
