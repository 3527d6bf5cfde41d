"""Latency histograms, CPU accounting and Prometheus histogram deltas."""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
from hdrh.histogram import HdrHistogram
from prometheus_client.parser import text_string_to_metric_families

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_MAX_US = 600_000_000  # 10 minutes


class Latencies:
    """Seconds in, milliseconds out; HdrHistogram with 3 significant digits, microsecond unit."""

    def __init__(self) -> None:
        self.hist = HdrHistogram(1, _MAX_US, 3)

    def record(self, seconds: float) -> None:
        self.hist.record_value(min(max(int(seconds * 1_000_000), 1), _MAX_US))

    @property
    def count(self) -> int:
        return self.hist.get_total_count()

    def summary(self) -> dict:
        if not self.count:
            return {"count": 0, "mean_ms": None, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
        ms = lambda us: round(us / 1000, 2)  # noqa: E731
        return {
            "count": self.count,
            "mean_ms": ms(self.hist.get_mean_value()),
            "p50_ms": ms(self.hist.get_value_at_percentile(50)),
            "p95_ms": ms(self.hist.get_value_at_percentile(95)),
            "p99_ms": ms(self.hist.get_value_at_percentile(99)),
            "max_ms": ms(self.hist.get_max_value()),
        }


@dataclass
class Outcomes:
    """What a load run got back: successes, failures by status or exception name, latencies."""

    ok: int = 0
    errors: Counter = field(default_factory=Counter)
    latency: Latencies = field(default_factory=Latencies)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


# ------------------------------------------------------------------------ CPU


def _proc_cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime + stime


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) over all CPUs since boot."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    total = sum(parts[:8])
    return total - idle, total


@dataclass
class CpuSnapshot:
    at: float
    per_process: dict[str, float]
    machine_busy: int
    machine_total: int


class CpuMeter:
    """CPU seconds each stack process (and the bench itself) used between two snapshots."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def snapshot(self) -> CpuSnapshot:
        per = {name: s for name, pid in self.pids.items() if (s := _proc_cpu_seconds(pid)) is not None}
        t = os.times()
        per["bench-client"] = t.user + t.system
        busy, total = _machine_jiffies()
        return CpuSnapshot(time.monotonic(), per, busy, total)

    @staticmethod
    def delta(before: CpuSnapshot, after: CpuSnapshot) -> dict:
        wall = max(after.at - before.at, 1e-9)
        used = {
            name: round(after.per_process[name] - before.per_process[name], 2)
            for name in after.per_process
            if name in before.per_process
        }
        ours = sum(used.values())
        cpus = os.cpu_count() or 1
        total = max(after.machine_total - before.machine_total, 1)
        machine_busy = (after.machine_busy - before.machine_busy) / total
        return {
            "wall_s": round(wall, 2),
            "cpu_s": dict(sorted(used.items(), key=lambda kv: -kv[1])),
            # In cores (1.0 = one core fully busy); the machine has os.cpu_count() of them.
            "stack_and_bench_cores": round(ours / wall, 2),
            "machine_busy_cores": round(machine_busy * cpus, 2),
            "other_processes_cores": round(max(machine_busy * cpus - ours / wall, 0.0), 2),
        }


def top_cpu(delta: dict, n: int = 4) -> str:
    wall = delta["wall_s"]
    return ", ".join(f"{name} {secs / wall:.2f}" for name, secs in list(delta["cpu_s"].items())[:n])


# ------------------------------------------------------------------------ Prometheus


async def scrape_histogram(
    client: httpx.AsyncClient, url: str, metric: str, labels: dict[str, str]
) -> dict[str, float] | None:
    """{"sum": .., "count": .., "le=<bound>": cumulative count, ...} of one labelled histogram."""
    try:
        response = await client.get(url, timeout=5.0)
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        if family.name != metric:
            continue
        for sample in family.samples:
            sample_labels = dict(sample.labels)
            le = sample_labels.pop("le", None)
            if any(sample_labels.get(k) != v for k, v in labels.items()):
                continue
            if sample.name.endswith("_sum"):
                out["sum"] = sample.value
            elif sample.name.endswith("_count"):
                out["count"] = sample.value
            elif sample.name.endswith("_bucket") and le is not None:
                out[f"le={le}"] = sample.value
    return out


def histogram_delta(before: dict | None, after: dict | None) -> dict:
    """Server-side mean and bucket-interpolated percentiles of what happened between two scrapes."""
    if not after:
        return {"count": 0}
    before = before or {}
    count = after.get("count", 0) - before.get("count", 0)
    total = after.get("sum", 0) - before.get("sum", 0)
    if count <= 0:
        return {"count": 0}
    buckets = sorted(
        ((float(k[3:]), after[k] - before.get(k, 0)) for k in after if k.startswith("le=")),
        key=lambda b: b[0],
    )

    def percentile(p: float) -> float | None:
        rank = count * p / 100
        lower_bound, lower_count = 0.0, 0.0
        for bound, cumulative in buckets:
            if cumulative >= rank:
                if bound == float("inf"):
                    return None  # beyond the last finite bucket
                share = (rank - lower_count) / max(cumulative - lower_count, 1e-9)
                return round((lower_bound + (bound - lower_bound) * share) * 1000, 2)
            lower_bound, lower_count = bound, cumulative
        return None

    return {
        "count": int(count),
        "mean_ms": round(total / count * 1000, 2),
        "p50_ms~": percentile(50),
        "p95_ms~": percentile(95),
        "p99_ms~": percentile(99),
    }


async def scrape_mongodb_commands(client: httpx.AsyncClient, urls: dict[str, str]) -> dict[str, float]:
    """{"<service> <command> <collection>": count} summed over the services' /metrics."""
    out: dict[str, float] = {}
    for service, url in urls.items():
        try:
            response = await client.get(f"{url.rstrip('/')}/metrics", timeout=5.0)
            response.raise_for_status()
        except httpx.HTTPError:
            continue
        for family in text_string_to_metric_families(response.text):
            if family.name != "mongodb_commands":
                continue
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    labels = sample.labels
                    out[f"{service} {labels['command']} {labels['collection']}"] = sample.value
    return out


def per_unit(before: dict[str, float], after: dict[str, float], units: int) -> dict[str, float]:
    """What was added between two counter scrapes, per unit of work, largest first."""
    if not units:
        return {}
    added = {k: v - before.get(k, 0.0) for k, v in after.items()}
    return {k: round(v / units, 2) for k, v in sorted(added.items(), key=lambda kv: -kv[1]) if v > 0}


async def scrape_adjudication_decisions(
    client: httpx.AsyncClient, url: str
) -> tuple[dict[tuple[str, str], float], float | None]:
    """({(outcome, path): decisions}, auto-adjudication ratio since start) from the worker's /metrics.

    adjudication_decisions_total{outcome,path}: path "auto" (decided without a pend or a
    person), "pended" (outcome info_requested), "after_information" (decided again once
    documents came). ({}, None) when the worker does not answer.
    """
    try:
        response = await client.get(url, timeout=5.0)
        response.raise_for_status()
    except httpx.HTTPError:
        return {}, None
    counts: dict[tuple[str, str], float] = {}
    gauge = None
    for family in text_string_to_metric_families(response.text):
        if family.name == "adjudication_decisions":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    counts[(sample.labels["outcome"], sample.labels["path"])] = sample.value
        elif family.name == "adjudication_auto_adjudication_ratio":
            gauge = round(family.samples[0].value, 3) if family.samples else None
    return counts, gauge
