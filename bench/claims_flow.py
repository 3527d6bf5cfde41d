"""Claims at a steady offered rate (open loop), and the cost per claim as the stores grow.

Two parts:
Both send the claim mix of bench/mix.py (clean claims, pends, denials; full adjudication).
- `claims_open`: POST /v1/claims on a timetable (default 100/s) for a window; every
  accepted claim's submit -> final status (claim.processed / denied / info_requested seen on
  claims.events) is recorded, unfinished ones as lower bounds. The latency counts
  from the scheduled send, so a stalled server cannot hide queueing (coordinated
  omission).
- `claims_growth`: CPU milliseconds per claim (per process) at a fixed moderate rate,
  with about 1,000 and then about 100,000 claims already stored. The stores are
  grown by cloning the documents real claims left in every collection that grows
  with claims (a bulk insert: seeding 100,000 claims through the API would take
  longer than the whole bench). FerretDB v1 scans any collection it cannot read by
  `_id`, so a query that is not a point read shows up here as a rising cost.
"""

from __future__ import annotations

import time
import uuid

from pymongo.asynchronous.database import AsyncDatabase

from bench import mix as claim_mix
from bench.claims import ClaimWatcher, setup_mix, wait_until_claims_knows
from bench.context import Context, log
from bench.lag import consumer_lag
from bench.load import open_loop
from bench.stackctl import DATABASE_PREFIX
from bench.stats import CpuMeter, Latencies, per_unit, scrape_mongodb_commands
from infra.mongo import create_client
from infra.settings import PlatformSettings

# Databases whose collections may grow with claims; collections that hold work in
# flight or singletons are never cloned into.
GROWING_DATABASES = ("claims", "adjudication")
NEVER_CLONED = ("outbox", "lease", "signing", "keys", "member")


async def _offered(ctx: Context, mix: claim_mix.ClaimMix, members, watcher: ClaimWatcher, rate: float,
                   seconds: float, wait: float, first_number: int) -> dict:
    clients = await claim_mix.MixClients.open(mix, ctx.client_for, connections=ctx.profile.claims_open_max_in_flight)
    client = clients.main
    submitted: dict[str, float] = {}
    phase: list[str] = []
    try:
        async def submit(n: int) -> int:
            _, sender, body = mix.claim(first_number + n, members[n % len(members)])
            t0 = time.perf_counter()
            response = await clients.for_org(sender).post("/v1/claims", json=body,
                                                          headers={"Idempotency-Key": str(uuid.uuid4())})
            if response.status_code == 201:
                claim_id = response.json()["claim_id"]
                submitted[claim_id] = t0
                phase.append(claim_id)
            return response.status_code

        service_urls = {name: ctx.stack.service_url(name) for name in ("identity", "eligibility", "claims", "adjudication")}
        commands_before = await scrape_mongodb_commands(client, service_urls)
        before = ctx.cpu.snapshot()
        started = time.perf_counter()
        result = await open_loop(submit, rate, seconds, max_in_flight=ctx.profile.claims_open_max_in_flight,
                                 expected=201, drain_timeout=ctx.profile.drain_timeout)  # fmt: skip
        missing = await watcher.wait_for(list(phase), wait)
        cpu = CpuMeter.delta(before, ctx.cpu.snapshot())
        waited_until = time.perf_counter()
        commands = per_unit(commands_before, await scrape_mongodb_commands(client, service_urls), len(phase))
    finally:
        await clients.aclose()
    latency, censored = Latencies(), Latencies()
    done = []
    for claim_id in phase:
        if claim_id in watcher.decided:
            at = watcher.decided[claim_id][0]
            done.append(at)
            latency.record(at - submitted[claim_id])
            censored.record(at - submitted[claim_id])
        else:
            censored.record(waited_until - submitted[claim_id])
    span = (max(done) - started) if done else None
    return {
        "offered_per_s": rate,
        "window_s": seconds,
        "submit": result.as_dict(),
        "accepted": len(phase),
        "final": len(done),
        "not_final_in_time": missing,
        "final_per_s": round(len(done) / span, 1) if span else None,
        "submit_to_final": latency.summary(),
        "submit_to_final_with_censored": censored.summary(),
        "cpu": cpu,
        "cpu_ms_per_claim": {name: round(secs / len(done) * 1000, 2) for name, secs in cpu["cpu_s"].items()
                             if secs and done},  # fmt: skip
        "mongodb_commands_per_claim": commands,
        "mongodb_commands_per_claim_total": round(sum(commands.values()), 1),
        "consumer_group_lag_after": await consumer_lag(ctx.stack.bootstrap),
    }


async def run_open(ctx: Context) -> dict:
    p = ctx.profile
    mix, members = await setup_mix(ctx, p.members)
    org = mix.in_network
    watcher = ClaimWatcher(ctx.stack.bootstrap)
    probe = await ctx.client_for(org, connections=4)
    try:
        await wait_until_claims_knows(probe, org, members)
        await watcher.start()
        log(f"claims_open: {p.claims_open_rate:g} claims/s offered for {p.claims_open_seconds:g}s")
        out = await _offered(ctx, mix, members, watcher, p.claims_open_rate, p.claims_open_seconds,
                             p.e2e_wait, 1_000_000)  # fmt: skip
        ctx.results["claims_open"] = out
        s = out["submit_to_final"]
        log(f"claims_open: {out['accepted']} accepted, {out['final']} final, submit->final p50 {s['p50_ms']} ms "
            f"p99 {s['p99_ms']} ms; not final {out['not_final_in_time']}")  # fmt: skip
        return out
    finally:
        await watcher.stop()
        await probe.aclose()
        await mix.close()


async def _growing_collections(mongo, claims_stored: int) -> dict[tuple[str, str], int]:
    """Collections holding at least one document per stored claim, with their sizes."""
    found = {}
    for db_name in GROWING_DATABASES:
        db: AsyncDatabase = mongo[f"{DATABASE_PREFIX}{db_name}"]
        for name in await db.list_collection_names():
            if any(word in name for word in NEVER_CLONED):
                continue
            size = await db[name].estimated_document_count()
            if size >= claims_stored:
                found[(db_name, name)] = size
    return found


async def _grow_to(mongo, sizes_per_claim: dict[tuple[str, str], float], claims: int, tag: str) -> dict:
    """Adds clones until every growing collection holds about `claims` claims' worth of documents."""
    grown = {}
    for (db_name, name), per_claim in sizes_per_claim.items():
        collection = mongo[f"{DATABASE_PREFIX}{db_name}"][name]
        have = await collection.estimated_document_count()
        want = int(claims * per_claim)
        samples = [doc async for doc in collection.find({}).limit(50)]
        if not samples or want <= have:
            grown[f"{db_name}.{name}"] = have
            continue
        batch, n = [], 0
        while have + n < want:
            doc = dict(samples[n % len(samples)])
            doc["_id"] = f"seed-{tag}-{n}-{doc['_id']}"
            batch.append(doc)
            n += 1
            if len(batch) == 1000:
                await collection.insert_many(batch, ordered=False)
                batch = []
        if batch:
            await collection.insert_many(batch, ordered=False)
        grown[f"{db_name}.{name}"] = have + n
    return grown


async def run_growth(ctx: Context) -> dict:
    p = ctx.profile
    mix, members = await setup_mix(ctx, p.members)
    org = mix.in_network
    watcher = ClaimWatcher(ctx.stack.bootstrap)
    probe = await ctx.client_for(org, connections=4)
    mongo = create_client(PlatformSettings(mongodb_uri=ctx.stack.mongodb_uri))
    out: dict = {"steps": []}
    ctx.results["claims_growth"] = out
    try:
        await wait_until_claims_knows(probe, org, members)
        await watcher.start()
        # Real claims first, so that every collection that grows with claims has documents to clone.
        await _offered(ctx, mix, members, watcher, p.growth_rate, 2.0, p.e2e_wait, 2_000_000)
        stored = await mongo[f"{DATABASE_PREFIX}claims"]["claim_status"].estimated_document_count()
        collections = await _growing_collections(mongo, max(stored, 1))
        per_claim = {key: size / max(stored, 1) for key, size in collections.items()}
        out["documents_per_claim"] = {f"{db}.{name}": round(v, 2) for (db, name), v in per_claim.items()}
        for i, target in enumerate(p.growth_sizes):
            t0 = time.perf_counter()
            sizes = await _grow_to(mongo, per_claim, target, f"g{i}")
            seeded_s = round(time.perf_counter() - t0, 1)
            await ctx.settle(p.settle_seconds)
            step = await _offered(ctx, mix, members, watcher, p.growth_rate, p.growth_seconds, p.e2e_wait,
                                  3_000_000 + i * 100_000)  # fmt: skip
            step.update(claims_stored=target, collections=sizes, seeding_s=seeded_s)
            out["steps"].append(step)
            log(f"claims_growth: {target} claims stored: CPU ms per claim {step['cpu_ms_per_claim']}; "
                f"p99 submit->final {step['submit_to_final']['p99_ms']} ms")  # fmt: skip
        return out
    finally:
        await watcher.stop()
        await probe.aclose()
        await mix.close()
        await mongo.close()


def total_cpu_ms(step: dict, exclude: tuple[str, ...] = ("bench-client",)) -> float | None:
    values = step.get("cpu_ms_per_claim") or {}
    total = sum(v for k, v in values.items() if k not in exclude)
    return round(total, 2) if values else None
