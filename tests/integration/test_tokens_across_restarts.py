"""A service that has just started must accept valid tokens: never 401 while it fetches its keys."""

import asyncio
import uuid
from collections import Counter

import httpx

from tests.support.waiting import eventually

CLIENTS = 8
# Answers each client must get from the restarted process before the test stops.
ANSWERS_AFTER_RESTART = 15


async def test_valid_tokens_are_never_401_while_claims_restarts(platform, running_stack):
    orgs = [await platform.new_organization(npis=1) for _ in range(CLIENTS)]
    # Sent before the restart, after it was begun, and after the new process was ready.
    answers: list[tuple[str, int, str]] = []
    phase = "before"
    after_restart = Counter()
    stopping = asyncio.Event()

    async def keep_asking(i: int, client: httpx.AsyncClient) -> None:
        while not stopping.is_set():
            sent_in = phase
            try:
                response = await client.get(f"/v1/claims/{uuid.uuid4()}")
            except httpx.TransportError as exc:
                answers.append((sent_in, 0, type(exc).__name__))
                continue
            answers.append((sent_in, response.status_code, response.text[:300]))
            if sent_in == "after":
                after_restart[i] += 1
            if response.status_code >= 500:
                # Pacing while the upstream is down, so the gateway is not spun hot; not a wait for anything.
                await asyncio.sleep(0.01)

    try:
        for org in orgs:  # every token valid and known to the old process
            assert (await org.client.get(f"/v1/claims/{uuid.uuid4()}")).status_code == 404
        tasks = [asyncio.create_task(keep_asking(i, org.client)) for i, org in enumerate(orgs)]
        try:
            phase = "restarting"
            await asyncio.to_thread(running_stack.stack.stop_service, "claims")
            await asyncio.to_thread(running_stack.stack.start_service, "claims")
            phase = "after"

            async def every_client_answered_by_the_new_process():
                return all(after_restart[i] >= ANSWERS_AFTER_RESTART for i in range(CLIENTS))

            await eventually(every_client_answered_by_the_new_process, timeout=60,
                             what="every client to be answered by the restarted claims service")
        finally:
            stopping.set()
            await asyncio.gather(*tasks)
    finally:
        for org in orgs:
            await org.client.aclose()

    by_phase = {p: Counter(status for sent_in, status, _ in answers if sent_in == p)
                for p in ("restarting", "after")}
    unauthorized = [text for _, status, text in answers if status == 401]
    assert not unauthorized, f"{len(unauthorized)} valid tokens answered 401, e.g. {unauthorized[0]}; {by_phase}"
    # While the service was down the gateway says so (502/503) or the connection drops;
    # once the new process was ready, every request reached it and was answered as usual.
    assert set(by_phase["restarting"]) <= {0, 404, 502, 503}, by_phase
    assert set(by_phase["after"]) == {404}, by_phase
