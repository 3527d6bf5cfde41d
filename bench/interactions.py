"""Claim interactions: a 1,000-claim batch against single-claim intake, attachment uploads, message posts.

Numbers only (the goal for batches: at least 5x the single-claim intake rate of the same
run, `claims` part). Sequential on purpose: one client, as a provider system would do it.
"""

from __future__ import annotations

import os
import time
import uuid

from bench.claims import claim_for
from bench.context import Context, log

MIB = 1024 * 1024


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] * 1000, 1)


async def run(ctx: Context) -> dict:
    out: dict = {}
    ctx.results["interactions"] = out
    org = await ctx.platform.new_organization()
    members = [await ctx.platform.new_member() for _ in range(4)]
    client = await ctx.client_for(org, connections=8)
    try:
        batch = {"claims": [claim_for(org, members[i % len(members)], 500_000 + i) for i in range(1000)]}
        started = time.perf_counter()
        response = await client.post("/v1/claims/batches", json=batch, timeout=600,
                                     headers={"Idempotency-Key": str(uuid.uuid4())})
        seconds = time.perf_counter() - started
        body = response.json() if response.status_code == 201 else {}
        out["batch"] = {"claims": 1000, "status": response.status_code, "accepted": body.get("accepted"),
                        "seconds": round(seconds, 2), "claims_per_s": round(1000 / seconds, 1)}
        single = (ctx.results.get("claims") or {}).get("best_accepted_per_s")
        if single:
            out["batch"]["vs_single_claim_intake"] = round(1000 / seconds / single, 1)
        log(f"interactions: 1,000-claim batch in {seconds:.1f} s ({1000 / seconds:.0f} claims/s)")

        claim_id = next(r["claim_id"] for r in body.get("results", []) if r["status"] == "received")
        data = b"%PDF-1.7\n" + os.urandom(10 * MIB)
        upload_seconds = []
        for _ in range(3):
            t0 = time.perf_counter()
            up = await client.post(f"/v1/claims/{claim_id}/attachments", data={"document_type": "OB"},
                                   files={"file": ("note.pdf", data, "application/pdf")}, timeout=120)
            upload_seconds.append(time.perf_counter() - t0)
            assert up.status_code == 201, up.text[:300]
        t0 = time.perf_counter()
        down = await client.get(f"/v1/attachments/{up.json()['attachment_id']}/content", timeout=120)
        download_seconds = time.perf_counter() - t0
        out["attachments"] = {"mib": 10, "upload_mib_per_s": round(10 / min(upload_seconds), 1),
                              "download_mib_per_s": round(len(down.content) / MIB / download_seconds, 1)}

        latencies = []
        for n in range(200):
            t0 = time.perf_counter()
            posted = await client.post(f"/v1/claims/{claim_id}/messages", json={"body": f"Message {n}."})
            latencies.append(time.perf_counter() - t0)
            assert posted.status_code == 201, posted.text[:300]
        out["messages"] = {"posts": 200, "p50_ms": _p(latencies, 50), "p99_ms": _p(latencies, 99)}
    finally:
        await client.aclose()
    return out


def render(results: dict) -> list[str]:
    data = results.get("interactions")
    if not data:
        return []
    batch, att, msg = data.get("batch", {}), data.get("attachments", {}), data.get("messages", {})
    return [
        "\n-- Claim interactions (one provider client, sequential) --",
        f"1,000-claim batch: {batch.get('seconds')} s = {batch.get('claims_per_s')} claims/s "
        f"({batch.get('vs_single_claim_intake', '-')}x the best single-claim intake rate; goal >= 5x)",
        f"attachment 10 MiB: upload {att.get('upload_mib_per_s')} MiB/s, download {att.get('download_mib_per_s')} MiB/s",
        f"message post: p50 {msg.get('p50_ms')} ms, p99 {msg.get('p99_ms')} ms ({msg.get('posts')} posts)",
    ]
