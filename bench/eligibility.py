"""Eligibility checks: open loop at a fixed rate and closed loop at fixed concurrency,
through the gateway and directly against the eligibility service, plus where the time goes.

Where the time goes, three views of the same requests:
- client latency (this process) versus the service's own http_request_duration_seconds
  histogram (scraped from its /metrics before and after each run);
- CPU seconds per check of each process (eligibility, FerretDB, gateway, this client);
- MongoDB commands per check the service sent (its mongodb_commands_total counter, by
  command and collection): deterministic, unlike the timings on a shared machine;
- a PyMongo micro-benchmark of the MongoDB work a cold check does (member stream, accumulators,
  network contract, then the check and its audit event inserted); a warm check answers
  the reads from the service's in-memory copies (docs/adr/0008).

The load is sent with aiohttp (the sanity checks with httpx, as the tests' client).
"""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import aiohttp
import bson
import httpx
import orjson
from pymongo.errors import PyMongoError

from bench.context import Context, log
from bench.load import closed_loop, merge_closed, merge_open, open_loop
from bench.stackctl import DATABASE_PREFIX
from bench.stats import CpuMeter, Latencies, histogram_delta, scrape_histogram, scrape_mongodb_commands, top_cpu
from infra.audit import record_access
from infra.eventstore import EventStore
from infra.http.auth import Principal
from infra.mongo import create_client
from infra.settings import PlatformSettings
from services.eligibility.check_store import collection_for
from services.eligibility.members import stream_of as member_stream_of

CHECK_ROUTE = {"method": "POST", "route": "/v1/eligibility/checks"}
PROCEDURE_SETS = (["99213", "83036"], ["99214", "72148", "80053"], ["70450", "85025"], ["97110", "99283", "36415"])
MEMBERS_PER_PLAN = 2
CONTRACTED_PLANS = 4  # the organisation is in network for the first four plans, out for the rest


async def _setup(ctx: Context):
    operator = await ctx.platform.operator()
    plans = [plan["id"] for plan in (await operator.get("/v1/plans")).json()["plans"]]
    org = await ctx.platform.new_organization()
    members = []
    for i, plan_id in enumerate(plans * MEMBERS_PER_PLAN):
        members.append(await ctx.platform.new_member(plan_id=plan_id, dob=f"19{55 + i % 40}-{1 + i % 12:02d}-{1 + i % 28:02d}"))
    contract = {"organization_id": org.organization_id, "plan_ids": plans[:CONTRACTED_PLANS]}
    response = await operator.post("/v1/admin/network-contracts", json=contract)
    response.raise_for_status()
    return org, members, plans


class LoadClientError(OSError):
    """A transport failure of the load client, counted like httpx's (bench/load.py)."""


def _load_session(base_url: str, authorization: str, connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        base_url=base_url,
        headers={"Authorization": authorization, "Content-Type": "application/json"},
        connector=aiohttp.TCPConnector(limit=connections, force_close=False),
        timeout=aiohttp.ClientTimeout(total=15.0),
    )


def _body(org, members: list[dict], n: int, dos: str) -> dict:
    member = members[n % len(members)]
    return {
        "member_id": member["member_id"],
        "date_of_birth": member["date_of_birth"],
        "date_of_service": dos,
        "procedure_codes": PROCEDURE_SETS[n % len(PROCEDURE_SETS)],
        "provider_npi": org.npis[0],
    }


async def _collection_sizes(db) -> dict:
    """Documents per collection; checks summed over their hourly collections (check_store.py)."""
    try:
        names = await db.list_collection_names()
        sizes = {name: await db[name].estimated_document_count() for name in ("events", "accumulators")}
        sizes["checks"] = sum([await db[n].estimated_document_count() for n in names if n.startswith("checks")])
        return sizes
    except PyMongoError:
        return {}


async def scrape_commands(client: httpx.AsyncClient, metrics_url: str) -> dict[str, float] | None:
    """{"<command> <collection>": count} of the eligibility service's mongodb_commands_total."""
    counts = await scrape_mongodb_commands(client, {"eligibility": metrics_url.removesuffix("/metrics")})
    return {key.removeprefix("eligibility "): value for key, value in counts.items()} or None


def commands_per_check(before: list[dict | None], after: list[dict | None], checks: int) -> dict:
    """MongoDB commands the service sent per answered check, over the slices, by command."""
    total: dict[str, float] = {}
    for b, a in zip(before, after, strict=True):
        if a is None:
            continue
        for key, value in a.items():
            total[key] = total.get(key, 0.0) + value - (b or {}).get(key, 0.0)
    checks = max(checks, 1)
    by_command = {k: round(v / checks, 3) for k, v in sorted(total.items(), key=lambda kv: -kv[1]) if v}
    return {"total": round(sum(total.values()) / checks, 3), "by_command": by_command}


async def _wait_quiet(scraper: httpx.AsyncClient, metrics_url: str, timeout: float) -> float | None:
    """Until the service stops finishing check requests (abandoned ones still run there); None if never."""
    started = time.perf_counter()
    last, still_since = None, time.perf_counter()
    while time.perf_counter() - started < timeout:
        snap = await scrape_histogram(scraper, metrics_url, "http_request_duration_seconds", CHECK_ROUTE)
        count = (snap or {}).get("count")
        if count != last:
            last, still_since = count, time.perf_counter()
        elif time.perf_counter() - still_since >= 0.6:
            return round(time.perf_counter() - started, 2)
        await asyncio.sleep(0.2)
    return None


async def run(ctx: Context) -> dict:
    p = ctx.profile
    out: dict = {"runs": []}
    ctx.results["eligibility"] = out
    org, members, plans = await _setup(ctx)
    direct_url = ctx.stack.service_url("eligibility")
    metrics_url = f"{direct_url}/metrics"
    dos = (date.today() - timedelta(days=3)).isoformat()
    cap = p.eligibility_max_in_flight
    targets = {"gateway": ctx.stack.base_url, "direct": direct_url}
    clients = {name: await ctx.client_for(org, url, connections=cap) for name, url in targets.items()}
    for client in clients.values():
        client.timeout = httpx.Timeout(15.0)
    scraper = httpx.AsyncClient(timeout=10.0)
    mongo = create_client(PlatformSettings(mongodb_uri=ctx.stack.mongodb_uri))
    db = mongo[f"{DATABASE_PREFIX}eligibility"]
    try:
        # Sanity: every member answers 200 "active" both ways; keep what the answers say.
        answers = {}
        for name, client in clients.items():
            statuses: dict[str, int] = {}
            for i, _ in enumerate(members):
                response = await client.post("/v1/eligibility/checks", json=_body(org, members, i, dos))
                key = str(response.status_code) if response.status_code != 200 else response.json()["status"]
                statuses[key] = statuses.get(key, 0) + 1
                if name == "gateway" and response.status_code == 200 and i < len(plans):
                    services = response.json()["services"]
                    answers[members[i]["plan_id"]] = {
                        "in_network": services[0]["in_network"] if services else None,
                        "covered": [s["covered"] for s in services],
                    }
            out[f"sanity_{name}"] = statuses
        out["sample_answers_by_plan"] = answers
        log(f"eligibility: {len(members)} members on {len(plans)} plans, contract for {CONTRACTED_PLANS}; "
            f"sanity {out['sanity_gateway']} / {out['sanity_direct']}")  # fmt: skip

        # The load itself goes through aiohttp: the client shares the two cores with the
        # stack, and httpx spent about 2-3 ms of CPU per check, more than the service.
        # Sanity answers above went through httpx, as the tests' client does.
        sessions = {name: _load_session(url, clients[name].headers["Authorization"], cap)
                    for name, url in targets.items()}
        out["load_client"] = f"aiohttp {aiohttp.__version__}"

        def request_for(session: aiohttp.ClientSession):
            async def check(n: int) -> int:
                try:
                    async with session.post("/v1/eligibility/checks",
                                            data=orjson.dumps(_body(org, members, n, dos))) as response:
                        await response.read()
                        return response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise LoadClientError(type(exc).__name__) from exc

            return check

        for name, session in sessions.items():
            await closed_loop(request_for(session), 8, total=p.eligibility_warmup)

        # Every check adds a check document and an audit event, and FerretDB v1 scans whole
        # collections, so the stack slows down as the run goes. Each run is therefore split
        # in two halves, interleaved ABBA, so neither target gets all the later slots.
        # Closed loop first: its capacity numbers come before the open loop's flood.
        for mode in ("closed", "open"):
            slices: dict[str, list] = {"gateway": [], "direct": []}
            extra: dict[str, dict] = {name: {"server": [], "cpu": [], "quiet_wait_s": [], "sizes": [],
                                              "commands_before": [], "commands_after": []} for name in slices}
            for name in ("gateway", "direct", "direct", "gateway"):
                check = request_for(sessions[name])
                extra[name]["quiet_wait_s"].append(await _wait_quiet(scraper, metrics_url, p.eligibility_quiet_timeout))
                extra[name]["sizes"].append(await _collection_sizes(db))
                server_before = await scrape_histogram(scraper, metrics_url, "http_request_duration_seconds", CHECK_ROUTE)
                extra[name]["commands_before"].append(await scrape_commands(scraper, metrics_url))
                cpu_before = ctx.cpu.snapshot()
                if mode == "open":
                    result = await open_loop(check, p.eligibility_rate, p.eligibility_seconds / 2, max_in_flight=cap,
                                             drain_timeout=p.eligibility_drain)  # fmt: skip
                else:
                    result = await closed_loop(check, p.eligibility_closed_concurrency, seconds=p.eligibility_closed_seconds / 2)
                extra[name]["cpu"].append(CpuMeter.delta(cpu_before, ctx.cpu.snapshot()))
                server_after = await scrape_histogram(scraper, metrics_url, "http_request_duration_seconds", CHECK_ROUTE)
                extra[name]["commands_after"].append(await scrape_commands(scraper, metrics_url))
                extra[name]["server"].append(histogram_delta(server_before, server_after))
                slices[name].append(result)
            for name in ("gateway", "direct"):
                merged = merge_open(slices[name]) if mode == "open" else merge_closed(slices[name])
                row = merged.as_dict()
                cpu = _sum_cpu(extra[name]["cpu"])
                requests = max(merged.outcomes.ok + merged.outcomes.error_count, 1)
                row.update(
                    mode=mode,
                    target=name,
                    slices=[s.as_dict() for s in slices[name]],
                    collections_before_slices=extra[name]["sizes"],
                    quiet_wait_before_slices_s=extra[name]["quiet_wait_s"],
                    server=_merge_server(extra[name]["server"]),
                    server_slices=extra[name]["server"],
                    cpu=cpu,
                    cpu_ms_per_check={proc: round(secs / requests * 1000, 2) for proc, secs in cpu["cpu_s"].items() if secs},
                    # Every command the service sent during the slices (relay, sweeper and
                    # consumers included), per check answered.
                    mongodb_commands_per_check=commands_per_check(
                        extra[name]["commands_before"], extra[name]["commands_after"], requests),
                )
                out["runs"].append(row)
                rate = row.get("achieved_per_s", row.get("ok_per_s"))
                latency = row.get("latency_with_censored", row.get("latency"))
                log(f"eligibility: {mode:<6} {name:<7} {rate} checks/s, p50 {latency['p50_ms']} p99 {latency['p99_ms']} "
                    f"ms, errors {row['errors']}, not sent {row.get('not_sent', 0)}, server mean "
                    f"{row['server'].get('mean_ms')} ms; cores: {top_cpu(cpu)}; mongodb commands per check "
                    f"{row['mongodb_commands_per_check']}; sizes {extra[name]['sizes']}")  # fmt: skip

        out["mongo_micro"] = await mongo_micro(ctx, db, mongo, org.organization_id, members)
        return out
    finally:
        for session in locals().get("sessions", {}).values():
            await session.close()
        for client in clients.values():
            await client.aclose()
        await scraper.aclose()
        await org.client.aclose()
        await mongo.close()


def _sum_cpu(deltas: list[dict]) -> dict:
    wall = sum(d["wall_s"] for d in deltas) or 1e-9
    cpu: dict[str, float] = {}
    for d in deltas:
        for name, secs in d["cpu_s"].items():
            cpu[name] = round(cpu.get(name, 0.0) + secs, 2)
    ours = sum(cpu.values())
    other = sum(d["other_processes_cores"] * d["wall_s"] for d in deltas)
    return {
        "wall_s": round(wall, 2),
        "cpu_s": dict(sorted(cpu.items(), key=lambda kv: -kv[1])),
        "stack_and_bench_cores": round(ours / wall, 2),
        "other_processes_cores": round(other / wall, 2),
    }


def _merge_server(slices: list[dict]) -> dict:
    count = sum(s.get("count", 0) for s in slices)
    if not count:
        return {"count": 0}
    mean = sum(s["mean_ms"] * s["count"] for s in slices if s.get("count")) / count
    return {"count": count, "mean_ms": round(mean, 2),
            "p99_ms~_worst_slice": max((s.get("p99_ms~") or 0) for s in slices) or None}  # fmt: skip


async def mongo_micro(ctx: Context, db, mongo, organization_id: str, members: list[dict]) -> dict:
    """The MongoDB work of one check, step by step, sequentially, on the live collections.

    Reads go through the same code the service uses where it has a stable interface
    (EventStore.load of the member's stream, the network contract by _id) and the same
    query otherwise (the accumulators read copy by "<member>:<year>"). Writes go to a
    scratch database: a copy of a real check document, and an audit record written with
    infra.audit.record_access into a scratch EventStore (event + outbox, as the service
    does). Each step runs for at most mongo_micro_iterations or mongo_micro_step_seconds.
    Then a scan probe: a find by a field other than _id on scratch collections of growing
    size shows what a query that is not a point read costs on this server.
    """
    p = ctx.profile
    check_template = await db[collection_for(datetime.now(UTC))].find_one({})
    store = EventStore(db, "eligibility")
    scratch = mongo[f"{DATABASE_PREFIX}scratch"]
    scratch_store = EventStore(scratch, "bench-scratch")
    await scratch_store.ensure_indexes()
    ids = [m["member_id"] for m in members]
    year = date.today().year
    principal = Principal(client_id="bench", role="provider", organization_id=organization_id)

    def member_stream(i):
        return store.load(member_stream_of(ids[i % len(ids)]))

    def accumulators(i):
        return db["accumulators"].find_one({"_id": f"{ids[i % len(ids)]}:{year}"})

    def contract(i):
        return db["network_contracts"].find_one({"_id": organization_id})

    def insert_check(i):
        doc = copy.copy(check_template) if check_template else {"answer": {}}
        doc.update(_id=str(uuid.uuid4()), expires_at=datetime.now(UTC) + timedelta(days=1))
        return scratch["checks"].insert_one(doc)

    def insert_audit(i):
        member_id = ids[i % len(ids)]
        return record_access(scratch_store, principal, source="/bench", action="eligibility.check",
                             resource=f"eligibility-checks/{uuid.uuid4()}", member_id=member_id, outcome="active")  # fmt: skip

    async def whole_check(i):
        # What Checks.run does: three reads at once, then two writes at once.
        await asyncio.gather(member_stream(i), accumulators(i), contract(i))
        await asyncio.gather(insert_check(i), insert_audit(i))

    out: dict = {"collections": await _collection_sizes(db), "queries": {}}
    steps = [
        ("member stream (EventStore.load)", member_stream),
        ("accumulators read copy by _id", accumulators),
        ("network contract by _id (cached 5 s in the service)", contract),
        ("insert check", insert_check),
        ("audit record (record_access: event + outbox)", insert_audit),
        ("one check's MongoDB work, overlapped as the service does", whole_check),
    ]
    try:
        for label, step in steps:
            latency = Latencies()
            deadline = time.perf_counter() + p.mongo_micro_step_seconds
            for i in range(p.mongo_micro_iterations):
                t0 = time.perf_counter()
                await step(i)
                latency.record(time.perf_counter() - t0)
                if time.perf_counter() > deadline:
                    break
            out["queries"][label] = latency.summary()
        log("eligibility: mongo micro " + "; ".join(
            f"{label.split(':')[0]} {s['mean_ms']} ms" for label, s in out["queries"].items()))  # fmt: skip

        # Scan probe: find one document by a non-_id field among N documents shaped like a real
        # stored event of this service (a member's enrollment), so the per-document cost is comparable.
        template = await db["events"].find_one({}) or {"event": {"data": "x" * 1500}}
        out["scan_probe_document_bytes"] = len(bson.encode(template))
        probe = scratch["scan_probe"]
        await probe.create_index([("stream", 1), ("version", 1)])
        have = 0
        out["scan_probe"] = []
        for size in p.scan_probe_sizes:
            docs = [{**template, "_id": f"probe-{k}", "stream": f"probe-{k}", "version": 1} for k in range(have, size)]
            for k in range(0, len(docs), 500):
                await probe.insert_many(docs[k:k + 500])
            have = size
            latency = Latencies()
            for _ in range(10):
                t0 = time.perf_counter()
                await probe.find({"stream": f"probe-{size - 1}"}).sort("version", 1).to_list()
                latency.record(time.perf_counter() - t0)
            point = Latencies()
            for _ in range(10):
                t0 = time.perf_counter()
                await probe.find_one({"_id": f"probe-{size - 1}"})
                point.record(time.perf_counter() - t0)
            out["scan_probe"].append({"documents": size, "by_field": latency.summary(), "by_id": point.summary()})
        for label, command in (
            ("by_field", {"find": "scan_probe", "filter": {"stream": "probe-0"}, "sort": {"version": 1}}),
            ("by_id", {"find": "scan_probe", "filter": {"_id": "probe-0"}}),
        ):
            try:
                explain = await scratch.command({"explain": command, "verbosity": "queryPlanner"})
                out.setdefault("scan_probe_explain", {})[label] = {
                    k: v for k, v in explain.items() if "pushdown" in k.lower() or k == "queryPlanner"}  # fmt: skip
            except PyMongoError as exc:
                out.setdefault("scan_probe_explain", {})[label] = {"error": type(exc).__name__}
        if len(out["scan_probe"]) >= 2:
            a, b = out["scan_probe"][0], out["scan_probe"][-1]
            for label in ("by_field", "by_id"):
                out[f"scan_probe_us_per_document_{label}"] = round(
                    (b[label]["p50_ms"] - a[label]["p50_ms"]) * 1000 / (b["documents"] - a["documents"]), 2)  # fmt: skip
        log(f"eligibility: scan probe {[(s['documents'], s['by_field']['p50_ms'], s['by_id']['p50_ms']) for s in out['scan_probe']]} "
            f"-> {out.get('scan_probe_us_per_document_by_field')} / {out.get('scan_probe_us_per_document_by_id')} us "
            "per document (by field / by _id)")  # fmt: skip
    finally:
        try:
            await mongo.drop_database(scratch.name)
        except PyMongoError:
            pass
    return out
