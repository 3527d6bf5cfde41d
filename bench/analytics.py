"""Analytics: `analytics_lines` adjudicated lines in the denial read model, then queries.

Seeding: the first `analytics_live_lines` go through the projection's own handler
(DenialAnalytics.apply, what the live consumer runs) with claim.processed envelopes
built from the contract's models, and that rate is reported; the rest are folded by the
same pure function (decision_contribution), summed in memory and written as one `$inc`
per bucket plus their markers, so that 100,000 lines take seconds rather than the
minutes the per-claim path takes on a shared machine. Straight into the claims
service's collections of the bench stack: publishing on claims.events would make the
claims and payments consumers act on claims that do not exist. Synthetic organisations (never registered), so an operator queries them with
organization_id=, which reads one organisation's buckets as a provider's query does.

Queries go through the gateway as an operator, mixed: 30, 90 and 365 days ending
today (ragged month edges: the most bucket reads a range of that length needs), each
group_by, one organisation or all. Reported: seeding lines/s, query p50/p95/p99 per
range length and overall; target p99 <= 50 ms.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient

from bench.context import Context, log
from bench.stackctl import DATABASE_PREFIX
from bench.stats import Latencies
from contracts.envelope import new_event
from contracts.events.claims import CLAIM_PROCESSED, ClaimAdjudicated
from services.claims.denial_analytics import DenialAnalytics
from services.claims.domain.denials import decision_contribution

TARGET_P99_MS = 50.0
LINES_PER_CLAIM = 20
"""Long claims, so that 100,000 lines seed in minutes on a shared machine; the buckets hold
the same kind of counters whatever the claims' lengths."""
ORGS = 10
CODES = [f"99{200 + i}" for i in range(10)] + ["83036", "97110", "15823", "70450", "72148", "36415", "90471", "81002"]
DENIALS = ["204", "197", "242", "16", "97", "29"]


def _claim(rng: random.Random, org: int, day_offset: int, n: int) -> dict:
    lines = []
    for number in range(1, LINES_PER_CLAIM + 1):
        charge = f"{rng.randint(20, 900)}.00"
        denied = rng.random() < 0.12
        paid = "0.00" if denied else charge
        adjustments = [{"group": "CO", "carc": rng.choice(DENIALS), "amount": charge}] if denied else []
        lines.append({"line_number": number, "procedure_code": rng.choice(CODES), "charge_amount": charge,
                      "allowed_amount": paid, "deductible": "0.00", "copay": "0.00", "coinsurance": "0.00",
                      "paid_amount": paid, "patient_responsibility": "0.00", "adjustments": adjustments})
    at = datetime.now(UTC) - timedelta(days=day_offset, minutes=rng.randint(0, 1000))
    return {"claim_id": f"bench-{uuid.uuid4().hex}", "adjudication_id": str(uuid.uuid4()), "adjudicated_at": at.isoformat(),
            "lines": lines, "totals": {"charge": "0.00", "allowed": "0.00", "paid": "0.00", "patient_responsibility": "0.00"},
            "organization_id": f"bench-analytics-{org}",
            "billing_provider": {"npi": f"10000000{org:02d}", "tin": "123456789"}, "received_at": at.isoformat()}


async def seed_bulk(analytics: DenialAnalytics, claims: list[dict]) -> dict:
    started = time.perf_counter()
    totals: dict[str, dict[str, int]] = {}
    markers = []
    for data in claims:
        contribution = decision_contribution(ClaimAdjudicated.model_validate(data))
        markers.append({"_id": data["claim_id"], "version": 2, "contribution": contribution, "state": {"status": "decided"}})
        for bucket, fields in contribution.items():
            target = totals.setdefault(bucket, {})
            for name, value in fields.items():
                target[name] = target.get(name, 0) + value
    for start in range(0, len(markers), 500):
        await analytics.store.markers.insert_many(markers[start:start + 500])
    for bucket, fields in totals.items():
        await analytics.store.add(bucket, fields)
    return {"lines": len(claims) * LINES_PER_CLAIM, "claims": len(claims), "buckets_written": len(totals),
            "seconds": round(time.perf_counter() - started, 1)}


async def seed(analytics: DenialAnalytics, claims: list[dict], concurrency: int = 16) -> dict:
    queue = iter(claims)
    started = time.perf_counter()

    async def worker() -> None:
        for data in queue:
            payload = ClaimAdjudicated.model_validate(data)
            event = new_event(source="/services/claims", type=CLAIM_PROCESSED, subject=data["claim_id"], data=data,
                              aggregateversion=2, organizationid=data["organization_id"], partitionkey=data["claim_id"])
            await analytics.apply(payload, event)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return {"lines": len(claims) * LINES_PER_CLAIM, "claims": len(claims), "seconds": round(seconds, 1),
            "lines_per_s": round(len(claims) * LINES_PER_CLAIM / seconds, 1)}


async def run(ctx: Context) -> dict:
    out: dict = {"target_p99_ms": TARGET_P99_MS}
    ctx.results["analytics"] = out
    client = AsyncMongoClient(ctx.stack.mongodb_uri, tz_aware=True, retryWrites=False, maxPoolSize=32)
    try:
        analytics = DenialAnalytics(client[f"{DATABASE_PREFIX}claims"])
        rng = random.Random(12)
        claims = [_claim(rng, i % ORGS, rng.randint(0, 364), i) for i in range(ctx.profile.analytics_lines // LINES_PER_CLAIM)]
        live = ctx.profile.analytics_live_lines // LINES_PER_CLAIM
        log(f"analytics: {live * LINES_PER_CLAIM:,} lines through the projection's handler")
        out["seed_live"] = await seed(analytics, claims[:live])
        log(f"analytics: {out['seed_live']}; the rest folded by the same function and written per bucket")
        out["seed_bulk"] = await seed_bulk(analytics, claims[live:])
        out["seed"] = {"lines": len(claims) * LINES_PER_CLAIM}
        log(f"analytics: seeded {out['seed_bulk']}")
        out["buckets"] = await analytics.store.buckets.estimated_document_count()
        # The read path alone (no gateway, no token check): what the buckets cost.
        today = datetime.now(UTC).date()
        direct = Latencies()
        for i in range(60):
            started = time.perf_counter()
            await analytics.figures(f"bench-analytics-{i % ORGS}" if i % 2 else "*", today - timedelta(days=364), today,
                                    ("carc", "procedure_code", "provider", "month")[i % 4])
            direct.record(time.perf_counter() - started)
        out["read_path_365_days"] = direct.summary()
    finally:
        await client.close()
    operator = await ctx.platform.operator()
    rng = random.Random(7)
    today = datetime.now(UTC).date()
    by_range = {days: Latencies() for days in (30, 90, 365)}
    overall = Latencies()
    errors = 0
    for i in range(ctx.profile.analytics_queries):
        days = (30, 90, 365)[i % 3]
        params = {"from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat(),
                  "group_by": rng.choice(["carc", "procedure_code", "provider", "month"])}
        if i % 2:
            params["organization_id"] = f"bench-analytics-{rng.randrange(ORGS)}"
        started = time.perf_counter()
        response = await operator.get("/v1/analytics/denials", params=params)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            errors += 1
            continue
        by_range[days].record(elapsed)
        overall.record(elapsed)
    out["queries"] = {"overall": overall.summary(), "errors": errors,
                      **{f"{days}_days": lat.summary() for days, lat in by_range.items()}}
    p99 = out["queries"]["overall"]["p99_ms"]
    out["met"] = p99 is not None and p99 <= TARGET_P99_MS and not errors
    log(f"analytics: {out['buckets']:,} buckets; read path alone, 365 days: {out['read_path_365_days']}")
    log(f"analytics: queries through the gateway {out['queries']}")
    log(f"analytics: p99 {p99} ms (target <= {TARGET_P99_MS:g} ms): {'met' if out['met'] else 'NOT met'}")
    return out
