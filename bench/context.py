"""What every part of the bench shares: the stack, the API client, CPU meter, results."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field

import httpx

from bench.lag import consumer_lag
from bench.profile import Profile
from bench.stackctl import BenchStack
from bench.stats import CpuMeter, top_cpu
from tests.support.client import Organization, Platform

_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass
class Context:
    stack: BenchStack
    profile: Profile
    platform: Platform
    cpu: CpuMeter
    results: dict = field(default_factory=dict)
    # Real messages/documents seen by one part and reused by another (sizes for the baselines).
    samples: dict = field(default_factory=dict)
    best_concurrency: int | None = None

    async def client_for(self, org: Organization, base_url: str | None = None, connections: int = 128) -> httpx.AsyncClient:
        """A keep-alive client with room for `connections` concurrent requests (the tests' default pool keeps 20)."""
        token = await self.platform.token(org.client_id, org.client_secret)
        return httpx.AsyncClient(
            base_url=base_url or self.stack.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    async def settle(self, max_seconds: float, threshold: float = 0.4) -> dict:
        """Waits until the stack's processes together use less than `threshold` cores over a second
        (work left over from the previous part, such as a claims backlog, would skew the next one)."""
        started = time.monotonic()
        while True:
            before = self.cpu.snapshot()
            await asyncio.sleep(1.0)
            delta = CpuMeter.delta(before, self.cpu.snapshot())
            cores = sum(v for k, v in delta["cpu_s"].items() if k != "bench-client") / delta["wall_s"]
            waited = time.monotonic() - started
            if cores < threshold or waited >= max_seconds:
                state = {"waited_s": round(waited, 1), "stack_cores": round(cores, 2), "settled": cores < threshold,
                         "busiest": top_cpu(delta, 3), "consumer_group_lag": await consumer_lag(self.stack.bootstrap)}  # fmt: skip
                log(f"settle: stack at {cores:.2f} cores after {waited:.1f}s ({state['busiest']}); "
                    f"consumer-group lag {state['consumer_group_lag']}")  # fmt: skip
                return state
