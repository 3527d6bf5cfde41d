"""The performance targets of the platform, each judged met / not met from one run's results.

The numbers are what a run measured on this machine (stack and bench client on the
same cores); a target that a run did not measure is reported as such, not as met.
"""

from __future__ import annotations

from bench import report
from bench.claims_flow import total_cpu_ms

FLAT_COST_TOLERANCE = 1.25
"""CPU per claim with 100x the stored claims may be at most this multiple of the small store's."""

CORE_E2E_CLAIMS_PER_S = 52.3
"""The platform-core issue's last measured end-to-end claims/s (README; a 63.1 run earlier),
with the simple pricing adjudication: full adjudication should stay within 20 % of it."""
FULL_ADJUDICATION_TOLERANCE = 0.20


def _row(name: str, goal: str, value, met: bool | None) -> dict:
    return {"target": name, "goal": goal, "measured": value,
            "verdict": "not measured" if met is None else ("met" if met else "NOT met")}  # fmt: skip


def evaluate(results: dict) -> list[dict]:
    rows = []
    e2e = ((results.get("claims") or {}).get("end_to_end") or {}).get("processed_per_s")
    rows.append(_row("claims/s to final status (closed loop, end to end)", ">= 200/s", e2e,
                     None if e2e is None else e2e >= 200))  # fmt: skip

    ratio = None if e2e is None else round(e2e / CORE_E2E_CLAIMS_PER_S, 2)
    rows.append(_row("full adjudication end-to-end throughput within 20% of the platform-core issue's",
                     f">= {1 - FULL_ADJUDICATION_TOLERANCE:.0%} of {CORE_E2E_CLAIMS_PER_S:g} claims/s",
                     None if e2e is None else f"{e2e} claims/s = {ratio:.2f} x {CORE_E2E_CLAIMS_PER_S:g}",
                     None if e2e is None else ratio >= 1 - FULL_ADJUDICATION_TOLERANCE))  # fmt: skip

    flow = results.get("claims_open") or {}
    censored = (flow.get("submit_to_final_with_censored") or {}).get("p99_ms")
    offered = flow.get("offered_per_s")
    rows.append(_row(f"submit -> final p99 at {offered or 100:g} claims/s offered (open loop; unfinished count as waited)",
                     "<= 1000 ms at 100/s", censored,
                     None if censored is None else (censored <= 1000 and (offered or 0) >= 100)))  # fmt: skip

    elig = report.eligibility_target(results.get("eligibility") or {})
    measured = None if elig["verdict"] == "NOT MEASURED" else elig["why"]
    rows.append(_row(f"eligibility p99 at {report.TARGET_RATE:g} checks/s offered, through the gateway (open loop)",
                     f"<= {report.TARGET_P99_MS:g} ms, all answered", measured,
                     None if measured is None else elig["verdict"] == "met"))  # fmt: skip

    analytics = results.get("analytics") or {}
    p99 = ((analytics.get("queries") or {}).get("overall") or {}).get("p99_ms")
    lines = (analytics.get("seed") or {}).get("lines")
    rows.append(_row(f"analytics query p99 with {lines or 0:,} adjudicated lines (gateway, operator)", "<= 50 ms",
                     p99, None if p99 is None else bool(analytics.get("met"))))

    hooks = (results.get("notifications") or {}).get("open_loop") or {}
    p99 = (hooks.get("event_to_first_attempt") or {}).get("p99_ms")
    complete = hooks.get("delivered") == hooks.get("events")
    rows.append(_row(f"webhook event -> first attempt p99 at {hooks.get('offered_per_s') or 100:g} events/s "
                     "(all delivered)", "<= 1000 ms", p99, None if p99 is None else (p99 <= 1000 and complete)))

    steps = (results.get("claims_growth") or {}).get("steps") or []
    if len(steps) >= 2:
        small, large = steps[0], steps[-1]
        a, b = total_cpu_ms(small), total_cpu_ms(large)
        value = f"{a} -> {b} ms ({small['claims_stored']:,} -> {large['claims_stored']:,} stored)"
        met = None if not a or not b else b <= a * FLAT_COST_TOLERANCE
        rows.append(_row("CPU ms per claim, all stack processes, as stored claims grow", f"flat (<= x{FLAT_COST_TOLERANCE})", value, met))
    else:
        rows.append(_row("CPU ms per claim, all stack processes, as stored claims grow", f"flat (<= x{FLAT_COST_TOLERANCE})", None, None))
    return rows
