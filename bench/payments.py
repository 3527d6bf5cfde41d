"""Payments: one payment run of `payment_claims` processed claims, and submission -> paid end to end.

Clean claims (bench/claims.claim_for) for `payment_members` members of one
organisation go in as fast as the pipeline takes them; once every one is processed
(claim.processed seen on claims.events by a group-less consumer) one run is requested
(POST /v1/admin/payment-runs, answered when the run completes), then claim.paid is
awaited for each. Reported:

- run_claims_per_s: claims in the run / the request's duration (the run's own work:
  taking the payables, planning and storing remittances, marking them paid, publishing);
- end_to_end_paid_per_s: claims / (first submission -> last claim.paid), with the run
  requested as soon as the last claim was processed (the schedule is off in the bench);
- the claims service's share: run completed -> last claim.paid.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid

from bench.claims import ClaimWatcher, claim_for, wait_until_adjudication_knows, wait_until_claims_knows
from bench.context import Context, log
from bench.load import closed_loop
from bench.stats import CpuMeter
from bench import mix as claim_mix


async def run(ctx: Context) -> dict:
    p = ctx.profile
    out: dict = {"claims_asked": p.payment_claims, "members": p.payment_members}
    ctx.results["payments"] = out
    org = await ctx.platform.new_organization()
    members = [await ctx.platform.new_member(plan_id=claim_mix.PLAN, dob=f"19{60 + i % 40}-0{1 + i % 9}-1{i % 10}",
                                             wait_for_claims=False) for i in range(p.payment_members)]
    client = await ctx.client_for(org)
    operator = await ctx.platform.operator()
    watcher = ClaimWatcher(ctx.stack.bootstrap)
    try:
        await wait_until_claims_knows(client, org, members)
        await wait_until_adjudication_knows(ctx, [org], members)
        await watcher.start()
        submitted: list[str] = []
        numbers = itertools.count(1)

        async def submit(n: int) -> int:
            body = claim_for(org, members[n % len(members)], n)
            response = await client.post("/v1/claims", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
            if response.status_code == 201:
                submitted.append(response.json()["claim_id"])
            return response.status_code

        log(f"payments: submitting {p.payment_claims} claims for {len(members)} members")
        before = ctx.cpu.snapshot()
        started = time.perf_counter()
        result = await closed_loop(submit, ctx.best_concurrency or 16, expected=201, total=p.payment_claims,
                                   numbers=numbers)
        missing = await watcher.wait_for(submitted, p.payment_wait)
        processed_at = time.perf_counter()
        out["accepted"] = result.outcomes.ok
        out["submit_errors"] = dict(result.outcomes.errors)
        out["not_processed_in_time"] = missing
        out["processed_per_s"] = round(len(submitted) / (processed_at - started), 1)
        log(f"payments: {len(submitted)} accepted, {missing} not processed after the wait; "
            f"{out['processed_per_s']} processed/s")

        asked = time.perf_counter()
        response = await operator.post("/v1/admin/payment-runs", json={},
                                       headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=p.payment_wait)
        run_s = time.perf_counter() - asked
        run = response.json()
        out["run"] = {"status": response.status_code, **{k: run.get(k) for k in ("payments", "claims", "total")},
                      "seconds": round(run_s, 2),
                      "run_claims_per_s": round(run["claims"] / run_s, 1) if run.get("claims") else None}
        log(f"payments: run of {run.get('claims')} claims in {run_s:.2f}s = {out['run']['run_claims_per_s']} claims/s "
            f"({run.get('payments')} payments, total {run.get('total')})")

        deadline = time.perf_counter() + p.payment_wait
        while time.perf_counter() < deadline and any(c not in watcher.paid for c in submitted):
            await asyncio.sleep(0.2)
        paid = [watcher.paid[c] for c in submitted if c in watcher.paid]
        cpu = CpuMeter.delta(before, ctx.cpu.snapshot())
        out["paid"] = len(paid)
        out["not_paid_in_time"] = len(submitted) - len(paid)
        if paid:
            out["end_to_end_paid_per_s"] = round(len(paid) / (max(paid) - started), 1)
            out["run_completed_to_last_paid_s"] = round(max(paid) - (asked + run_s), 2)
        out["cpu_ms_per_claim"] = {name: round(secs / max(len(paid), 1) * 1000, 1)
                                   for name, secs in list(cpu["cpu_s"].items())[:6] if secs}
        log(f"payments: {len(paid)} paid, end to end {out.get('end_to_end_paid_per_s')} claims/s "
            f"(submission -> paid); last claim.paid {out.get('run_completed_to_last_paid_s')}s after the run; "
            f"CPU ms/claim {out['cpu_ms_per_claim']}")
        return out
    finally:
        await watcher.stop()
        await client.aclose()
