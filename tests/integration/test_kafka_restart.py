"""Claims keep flowing through a kill -9 of the Kafka broker, and resume soon after it is back.

The flow: claims are submitted through the API at a steady rate before, during and
after the outage. The broker is killed with SIGKILL (no controlled shutdown, no
LeaveGroup from anyone) and started again on the same data. Every claim must reach its
final status.

Resume time is reported, not asserted (the machine is shared and timings are noisy):
- broker ready: LocalStack.start_kafka() returned (the broker lists itself as live
  and unfenced in its Metadata response);
- flow resumed: the first moment a claim submitted after the kill is seen in its final
  status (claims submitted during the outage sit in the claims outbox until then);
- outage backlog final: every claim submitted between the kill and broker ready is final.
Both are measured from broker ready; the oldest pending claims are polled every 0.1 s.
"""

import asyncio
import json
import os
import time

import httpx
import pytest

from tests.support.client import claim_body, submit_until_accepted, wait_for_status
from tests.support.stack import TEST_HOME
from tests.support.waiting import eventually

FINAL = {"processed", "denied"}
SUBMIT_EVERY = 0.5
OUTAGE_SECONDS = float(os.environ.get("TEST_KAFKA_OUTAGE_SECONDS", "5"))
AFTER_READY_SECONDS = 20.0


class ClaimFlow:
    """Submits one claim every SUBMIT_EVERY seconds; retries a failed POST with its Idempotency-Key."""

    def __init__(self, org, member) -> None:
        self.org = org
        self.member = member
        self.submitted: list[tuple[float, str]] = []  # (monotonic submit time, claim id)
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.submitted.append((started, await self._submit_one()))
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, SUBMIT_EVERY - (time.monotonic() - started)))
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stop.set()

    async def _submit_one(self) -> str:
        line = dict(claim_body(self.org, self.member)["lines"][0], charge_amount=f"{100 + len(self.submitted)}.00")
        body = claim_body(self.org, self.member, lines=[line])
        return await submit_until_accepted(self.org.client, body, during=" during the outage")


class FinalStatusWatch:
    """Polls submitted claims until they are final, noting when each was first seen final.

    Each round asks about the oldest claims not yet final only, a few at a time: all
    claims are for one member, so they are decided in submission order, and a round
    over every pending claim (dozens during an outage) would blur the times by seconds.
    """

    def __init__(self, client: httpx.AsyncClient, flow: ClaimFlow, per_round: int = 6) -> None:
        self.client = client
        self.flow = flow
        self.per_round = per_round
        self.final_at: dict[str, float] = {}

    async def _probe(self, claim_id: str) -> None:
        try:
            response = await self.client.get(f"/v1/claims/{claim_id}")
        except httpx.HTTPError:
            return
        if response.status_code == 200 and response.json()["status"] in FINAL:
            self.final_at.setdefault(claim_id, time.monotonic())

    async def poll_once(self) -> bool:
        pending = [c for _, c in list(self.flow.submitted) if c not in self.final_at]
        await asyncio.gather(*(self._probe(c) for c in pending[: self.per_round]))
        return len(self.final_at) == len(self.flow.submitted)

    async def run(self) -> None:
        while True:
            await self.poll_once()
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("worker_restarts", [False, True], ids=["broker-only", "worker-killed-too"])
async def test_claims_resume_after_the_broker_is_killed_and_restarted(platform, running_stack, org, capsys,
                                                                      worker_restarts):
    """worker-killed-too: the adjudication worker is also killed -9 during the outage and
    started again once the broker is ready, as a supervisor would restart a crashed
    worker. The broker then remembers a member that is gone, and the new member's join
    waits until the group's session/rebalance timeout evicts it."""
    stack = running_stack.stack
    member = await platform.new_member()
    warm = await org.client.post("/v1/claims", json=claim_body(org, member))
    await wait_for_status(org.client, warm.json()["claim_id"], "processed")

    flow = ClaimFlow(org, member)
    watch = FinalStatusWatch(org.client, flow)
    flowing = asyncio.create_task(flow.run())
    watching = asyncio.create_task(watch.run())

    async def flow_started():
        return len(watch.final_at) >= 2

    await eventually(flow_started, timeout=60, what="the first claims of the flow to be final")

    killed_at = time.monotonic()
    await asyncio.to_thread(stack.stop_kafka, kill=True)
    if worker_restarts:
        await asyncio.to_thread(stack.stop_service, "adjudication", kill=True)
    await asyncio.sleep(OUTAGE_SECONDS)  # the length of the outage, not a synchronisation
    await asyncio.to_thread(stack.start_kafka)
    ready_at = time.monotonic()
    if worker_restarts:
        await asyncio.to_thread(stack.start_service, "adjudication")  # returns once its /readyz is 200
        worker_ready_after = time.monotonic() - ready_at
    await asyncio.sleep(AFTER_READY_SECONDS)  # the flow goes on after the broker is back
    flow.stop()
    await flowing
    watching.cancel()

    await eventually(watch.poll_once, timeout=240, interval=0.1, what="every claim to reach its final status")

    after_kill = [(t, c) for t, c in flow.submitted if t >= killed_at]
    assert after_kill, "no claim was submitted during the outage"
    first_resumed = min(watch.final_at[c] for _, c in after_kill) - ready_at
    drained = max((watch.final_at[c] for t, c in after_kill if t < ready_at), default=ready_at) - ready_at
    report = {
        "scenario": "worker-killed-too" if worker_restarts else "broker-only",
        "worker_ready_after_broker_ready_seconds": round(worker_ready_after, 1) if worker_restarts else None,
        "claims": len(flow.submitted),
        "submitted_during_outage": sum(1 for t, _ in after_kill if t < ready_at),
        "broker_down_seconds": round(ready_at - killed_at, 1),
        "flow_resumed_after_ready_seconds": round(first_resumed, 1),
        "outage_backlog_final_after_ready_seconds": round(drained, 1),
        "slowest_claim_submitted_after_ready_seconds": round(
            max((watch.final_at[c] - t for t, c in after_kill if t >= ready_at), default=0.0), 1),
    }
    (TEST_HOME / f"kafka-restart-report-{report['scenario']}.json").write_text(json.dumps(report, indent=2) + "\n")
    with capsys.disabled():
        print(f"\nkafka kill -9 / restart: {json.dumps(report)}")
