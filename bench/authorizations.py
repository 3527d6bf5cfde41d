"""Prior authorization: POST /v1/authorizations at a fixed rate, and auto-approval latency.

Submissions go out on a fixed schedule (an open workload: a slow answer does not slow the
sender), half of them for a code the plan requires review for, half auto-approved by the
imaging rule. Numbers: accepted submissions/s and POST p50/p99; for the auto-approved, the
latency a provider sees (the POST's answer already carries the approval: the rule decides in
the same write) and the decision time on the timeline (approved minus submitted).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date, datetime, timedelta

from bench.context import Context, log

RATE_PER_S = 20
SECONDS = 15


def _p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] * 1000, 1)


def _body(org, member: dict, auto: bool) -> dict:
    start = date.today()
    return {
        "member_id": member["member_id"], "date_of_birth": member["date_of_birth"],
        "requesting_provider_npi": org.npis[0], "urgency": "standard",
        "procedure_codes": ["72148" if auto else "73721"], "diagnosis_codes": ["M54.16" if auto else "M17.11"],
        "units": 1, "start_date": start.isoformat(), "end_date": (start + timedelta(days=60)).isoformat(),
        "clinical_notes": "bench",
    }


async def run(ctx: Context, rate: int = RATE_PER_S, seconds: int = SECONDS) -> dict:
    out: dict = {}
    ctx.results["authorizations"] = out
    org = await ctx.platform.new_organization()
    members = [await ctx.platform.new_member() for _ in range(4)]
    client = await ctx.client_for(org, connections=64)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    auto_ids: list[str] = []
    auto_latencies: list[float] = []
    try:
        # The service's member copy may lag the enrolment a moment: wait until it answers 201.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            warm = await client.post("/v1/authorizations", json=_body(org, members[-1], auto=False))
            if warm.status_code == 201:
                break
            await asyncio.sleep(0.2)

        async def one(n: int) -> None:
            auto = n % 2 == 0
            t0 = time.perf_counter()
            response = await client.post("/v1/authorizations", json=_body(org, members[n % len(members)], auto),
                                         headers={"Idempotency-Key": str(uuid.uuid4())})
            latency = time.perf_counter() - t0
            latencies.append(latency)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if auto and response.status_code == 201 and response.json()["status"] == "approved":
                auto_ids.append(response.json()["authorization_id"])
                auto_latencies.append(latency)

        total = rate * seconds
        started = time.perf_counter()
        tasks = []
        for n in range(total):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        accepted = statuses.get(201, 0)
        out["submissions"] = {"offered_per_s": rate, "seconds": seconds, "sent": total, "statuses": statuses,
                              "accepted_per_s": round(accepted / elapsed, 1),
                              "p50_ms": _p(latencies, 50), "p99_ms": _p(latencies, 99)}

        decision_s = []
        for authorization_id in auto_ids[:100]:
            view = (await client.get(f"/v1/authorizations/{authorization_id}")).json()
            if view.get("status") == "approved":
                at = {e["status"]: datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in view["timeline"]}
                decision_s.append((at["approved"] - at["submitted"]).total_seconds())
        out["auto_approval"] = {"approved": len(auto_ids), "offered": (total + 1) // 2,
                                "p50_ms": _p(auto_latencies, 50), "p99_ms": _p(auto_latencies, 99),
                                "sampled": len(decision_s), "decision_p50_ms": _p(decision_s, 50),
                                "decision_p99_ms": _p(decision_s, 99)}
        log(f"authorizations: {out['submissions']['accepted_per_s']} accepted/s at {rate}/s offered, "
            f"p99 {out['submissions']['p99_ms']} ms; auto-approval p99 {out['auto_approval']['p99_ms']} ms")
    finally:
        await client.aclose()
    return out


def render(results: dict) -> list[str]:
    data = results.get("authorizations")
    if not data:
        return []
    sub, auto = data.get("submissions", {}), data.get("auto_approval", {})
    return [
        "\n-- Prior authorization (one provider client, fixed rate) --",
        f"POST /v1/authorizations at {sub.get('offered_per_s')}/s for {sub.get('seconds')} s: "
        f"{sub.get('accepted_per_s')} accepted/s, p50 {sub.get('p50_ms')} ms, p99 {sub.get('p99_ms')} ms "
        f"(statuses {sub.get('statuses')})",
        f"auto-approval as the provider sees it (POST answered approved): p50 {auto.get('p50_ms')} ms, "
        f"p99 {auto.get('p99_ms')} ms ({auto.get('approved')}/{auto.get('offered')} approved); "
        f"on the timeline: p50 {auto.get('decision_p50_ms')} ms, p99 {auto.get('decision_p99_ms')} ms "
        f"({auto.get('sampled')} sampled)",
    ]
