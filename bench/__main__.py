"""python -m bench [--quick] [--only PART]: numbers, ratios and the targets met / not met, never assertions."""

from __future__ import annotations

import argparse
import dataclasses
import asyncio
import os
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    analytics, authorizations, baselines, claims, claims_flow, eligibility, interactions, notifications, payments, report,
    targets,
)
from bench.context import Context, log
from bench.profile import FULL, QUICK
from bench.stackctl import ADMIN_ID, ADMIN_SECRET, RESULTS, BenchStack
from bench.stats import CpuMeter
from tests.support.client import Platform

# Baselines first: they need an idle stack, and the claims part leaves a backlog behind.
# Growth next to last: it fills the stores with 100,000 claims' documents. Notifications
# last: it stops the adjudication worker (bench/notifications.py says why).
PARTS = ("baselines", "claims", "interactions", "claims_open", "eligibility", "payments", "authorizations",
         "analytics", "claims_growth", "notifications")
RUNNERS = {"baselines": baselines.run, "claims": claims.run, "claims_open": claims_flow.run_open,
           "eligibility": eligibility.run, "payments": payments.run, "claims_growth": claims_flow.run_growth,
           "interactions": interactions.run, "notifications": notifications.run,
           "authorizations": authorizations.run, "analytics": analytics.run}


async def _run(stack: BenchStack, profile, parts: list[str], results: dict) -> None:
    platform = Platform(stack.base_url, ADMIN_ID, ADMIN_SECRET)
    ctx = Context(stack, profile, platform, CpuMeter(stack.pids()), results)
    try:
        for part in parts:
            log(f"--- {part}")
            results["meta"].setdefault("settle_before", {})[part] = await ctx.settle(profile.settle_seconds)
            started = time.monotonic()
            await RUNNERS[part](ctx)
            results["meta"].setdefault("seconds", {})[part] = round(time.monotonic() - started, 1)
    finally:
        await platform.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a ~1 minute smoke run with short phases")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    parser.add_argument("--members", type=int, help="members the claims parts spread their claims over "
                        "(default: the profile's; every decision rewrites its member's ledger, which grows with their claims)")
    parser.add_argument("--results", default=str(RESULTS), help="where to write the JSON (default %(default)s)")
    args = parser.parse_args(argv)
    profile = QUICK if args.quick else FULL
    if args.members:
        profile = dataclasses.replace(profile, members=args.members)
    parts = [p for p in PARTS if not args.only or p in args.only]

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    started = time.monotonic()
    stack = BenchStack()
    results: dict = {"meta": {
        "profile": profile.name, "parts": parts, "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(), "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "kafka": stack.external_kafka or "own (1 KRaft node)", "mongodb": stack.external_mongo or "own FerretDB v1 (SQLite backend)",
        "settings": profile.as_dict(),
    }}  # fmt: skip
    status = 0
    try:
        log(f"starting the bench stack under {stack.home} (gateway {stack.base_url})")
        t0 = time.monotonic()
        stack.start()
        results["meta"]["stack_start_s"] = round(time.monotonic() - t0, 1)
        asyncio.run(_run(stack, profile, parts, results))
    except KeyboardInterrupt:
        results["error"] = "interrupted"
        status = 130
    except Exception as exc:  # noqa: BLE001 - report what we have, then fail
        results["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
        status = 1
    finally:
        # A second Ctrl-C must not leave half-stopped servers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        results["meta"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        log("stopping the bench stack")
        try:
            stack.stop()
        except Exception as exc:  # noqa: BLE001
            log(f"stopping failed: {exc}")
            status = status or 1
        results["meta"]["total_s"] = round(time.monotonic() - started, 1)
    results["ratios"] = report.compute_ratios(results)
    results["targets"] = targets.evaluate(results)
    text = report.render(results)  # also adds derived numbers (gateway share) to results
    print(text, flush=True)
    report_path = Path(args.results)
    report.write(results, report_path)
    print(f"\nresults written to {report_path} (run took {results['meta']['total_s']} s)", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
