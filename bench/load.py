"""Load drivers. A request function takes a sequence number and returns an HTTP status.

closed_loop: `concurrency` workers, each sends its next request when the previous one
answered (throughput at a fixed concurrency; latency is service time).

open_loop: requests leave on a fixed timetable (rate per second) whatever the answers
do, and latency is measured from the *scheduled* send time, so a stall shows up in
every request that should have been sent during it (no coordinated omission).
In-flight requests are capped; when the cap is reached the timetable slips, which is
counted and still charged to latency.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from bench.stats import Latencies, Outcomes

Request = Callable[[int], Awaitable[int]]


def _classify(outcomes: Outcomes, status: int | None, exc: BaseException | None, expected: int) -> None:
    if exc is not None:
        outcomes.errors[type(exc).__name__] += 1
    elif status == expected:
        outcomes.ok += 1
    else:
        outcomes.errors[str(status)] += 1


@dataclass
class ClosedResult:
    concurrency: int
    elapsed: float
    outcomes: Outcomes

    @property
    def rate(self) -> float:
        return self.outcomes.ok / self.elapsed if self.elapsed else 0.0

    def as_dict(self) -> dict:
        return {
            "concurrency": self.concurrency,
            "elapsed_s": round(self.elapsed, 2),
            "ok": self.outcomes.ok,
            "ok_per_s": round(self.rate, 1),
            "errors": dict(self.outcomes.errors),
            "latency": self.outcomes.latency.summary(),
        }


async def closed_loop(
    request: Request,
    concurrency: int,
    *,
    expected: int = 200,
    total: int | None = None,
    seconds: float | None = None,
    numbers: itertools.count | None = None,
) -> ClosedResult:
    """Stops after `total` requests or `seconds`, whichever comes first."""
    if total is None and seconds is None:
        raise ValueError("give total or seconds")
    numbers = numbers or itertools.count()
    outcomes = Outcomes()
    started = time.perf_counter()
    deadline = started + seconds if seconds is not None else float("inf")
    issued = 0

    async def worker() -> None:
        nonlocal issued
        while time.perf_counter() < deadline and (total is None or issued < total):
            issued += 1
            n = next(numbers)
            t0 = time.perf_counter()
            status, exc = None, None
            try:
                status = await request(n)
            except (httpx.HTTPError, OSError) as e:
                exc = e
            outcomes.latency.record(time.perf_counter() - t0)
            _classify(outcomes, status, exc, expected)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ClosedResult(concurrency, time.perf_counter() - started, outcomes)


@dataclass
class OpenResult:
    rate: float
    seconds: float
    scheduled: int
    elapsed: float  # first scheduled send -> last answer (or end of the drain)
    outcomes: Outcomes  # latency from the scheduled send time, answered requests only
    with_censored: Latencies = field(default_factory=Latencies)  # plus lower bounds for unsent/unfinished
    service_time: Latencies = field(default_factory=Latencies)  # latency from the actual send
    send_lag: Latencies = field(default_factory=Latencies)  # actual send - scheduled send
    late_sends: int = 0  # sent more than 10 ms after their scheduled time
    cap_waits: int = 0  # had to wait for a free in-flight slot
    not_sent: int = 0  # no free slot before the window closed
    unfinished: int = 0  # still in flight when the drain timeout ended the run

    @property
    def achieved(self) -> float:
        return self.outcomes.ok / self.elapsed if self.elapsed else 0.0

    def as_dict(self) -> dict:
        return {
            "target_per_s": self.rate,
            "window_s": self.seconds,
            "scheduled": self.scheduled,
            "elapsed_s": round(self.elapsed, 2),
            "ok": self.outcomes.ok,
            "achieved_per_s": round(self.achieved, 1),
            "errors": dict(self.outcomes.errors),
            "not_sent": self.not_sent,
            "unfinished": self.unfinished,
            "late_sends_over_10ms": self.late_sends,
            "in_flight_cap_waits": self.cap_waits,
            "latency_from_schedule": self.outcomes.latency.summary(),
            "latency_with_censored": self.with_censored.summary(),
            "service_time": self.service_time.summary(),
            "send_lag": self.send_lag.summary(),
        }


async def open_loop(
    request: Request,
    rate: float,
    seconds: float,
    *,
    max_in_flight: int,
    expected: int = 200,
    drain_timeout: float = 5.0,
) -> OpenResult:
    """Sends on the timetable for `seconds`; what could not be sent by then is counted, not sent.

    Unsent requests and those still unanswered `drain_timeout` after the window are
    recorded in `with_censored` with the time they had waited so far (a lower bound).
    """
    count = int(rate * seconds)
    result = OpenResult(rate, seconds, count, 0.0, Outcomes())
    slots = asyncio.Semaphore(max_in_flight)
    tasks: dict[asyncio.Task, float] = {}
    last_answer = 0.0
    start = time.perf_counter() + 0.05
    window_end = start + seconds

    async def one(n: int, scheduled: float) -> None:
        nonlocal last_answer
        sent = time.perf_counter()
        status, exc = None, None
        try:
            status = await request(n)
        except (httpx.HTTPError, OSError) as e:
            exc = e
        finally:
            slots.release()
        done = time.perf_counter()
        last_answer = max(last_answer, done)
        result.outcomes.latency.record(done - scheduled)
        result.with_censored.record(done - scheduled)
        result.service_time.record(done - sent)
        _classify(result.outcomes, status, exc, expected)

    unsent_from = count
    for n in range(count):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if slots.locked():
            result.cap_waits += 1
        try:
            await asyncio.wait_for(slots.acquire(), max(window_end - time.perf_counter(), 0.001))
        except TimeoutError:
            unsent_from = n
            break
        lag = time.perf_counter() - scheduled
        result.send_lag.record(max(lag, 0.0))
        if lag > 0.010:
            result.late_sends += 1
        task = asyncio.create_task(one(n, scheduled))
        tasks[task] = scheduled
        task.add_done_callback(lambda t: tasks.pop(t, None))
    window_closed = time.perf_counter()
    result.not_sent = count - unsent_from
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=drain_timeout)
        end = time.perf_counter()
        result.unfinished = len(pending)
        for task in pending:
            result.with_censored.record(end - tasks.get(task, end))
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pending:
            result.outcomes.errors["unfinished"] += len(pending)
    for n in range(unsent_from, count):
        result.with_censored.record(max(window_closed - (start + n / rate), 0.0))
    result.elapsed = (last_answer or time.perf_counter()) - start
    return result


def merge_closed(results: list[ClosedResult]) -> ClosedResult:
    """Slices of the same closed-loop run (interleaved with another target's) as one."""
    merged = ClosedResult(results[0].concurrency, 0.0, Outcomes())
    for r in results:
        merged.elapsed += r.elapsed
        merged.outcomes.ok += r.outcomes.ok
        merged.outcomes.errors.update(r.outcomes.errors)
        merged.outcomes.latency.hist.add(r.outcomes.latency.hist)
    return merged


def merge_open(results: list[OpenResult]) -> OpenResult:
    first = results[0]
    merged = OpenResult(first.rate, 0.0, 0, 0.0, Outcomes())
    for r in results:
        merged.seconds += r.seconds
        merged.scheduled += r.scheduled
        merged.elapsed += r.elapsed
        merged.outcomes.ok += r.outcomes.ok
        merged.outcomes.errors.update(r.outcomes.errors)
        for mine, theirs in ((merged.outcomes.latency, r.outcomes.latency), (merged.with_censored, r.with_censored),
                             (merged.service_time, r.service_time), (merged.send_lag, r.send_lag)):
            mine.hist.add(theirs.hist)
        merged.late_sends += r.late_sends
        merged.cap_waits += r.cap_waits
        merged.not_sent += r.not_sent
        merged.unfinished += r.unfinished
    return merged
