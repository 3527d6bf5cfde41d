"""Payment runs through a kill -9, a replayed request and two runs at once: every processed claim
is in exactly one payment, and the totals balance.

1,000 processed claims of one organisation; a run is requested and the payments process
is killed with SIGKILL while the run is under way (at the phase named by
TEST_PAYMENT_KILL_PHASE, default: as soon as the run's claims are taken), restarted,
and the request replayed with its Idempotency-Key: the run finishes with one
remittance. Then 100 more claims and two runs requested at once (plus a replay of one
of them): the claims are split between the two runs, none in both. Counted at the end,
from the remittances (API) and from the claims (API and claims.events).

TEST_PAYMENT_KILL_CLAIMS makes a shorter run for development; the criterion is the default.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from pymongo import AsyncMongoClient

from tests.support.client import claim_body, submit_until_accepted
from tests.support.kafka import read_topic
from tests.support.payments import assert_balances, money, remittance, remittances_of
from tests.support.waiting import eventually

CLAIMS = int(os.environ.get("TEST_PAYMENT_KILL_CLAIMS", "1000"))
MORE = max(CLAIMS // 10, 10)
MEMBERS = 10
CONCURRENCY = 16
KILL_PHASE = os.environ.get("TEST_PAYMENT_KILL_PHASE", "collected")
PLAN = "gold-hmo-2026"


def _claim(org, member: dict, k: int) -> dict:
    dos = (datetime.now(UTC).date() - timedelta(days=2 + k % 60)).isoformat()
    cents = f"{k:02d}"[-2:]
    return claim_body(org, member, lines=[
        {"procedure_code": "99213", "modifiers": [], "units": 1, "charge_amount": f"{150 + k // 100}.{cents}",
         "date_of_service": dos, "place_of_service": "11", "diagnosis_pointers": [1]}])


async def _submit_many(client: httpx.AsyncClient, org, members: list[dict], first: int, count: int) -> list[str]:
    numbers = iter(range(first, first + count))
    ids: list[str] = []

    async def submitter() -> None:
        for n in numbers:
            ids.append(await submit_until_accepted(client, _claim(org, members[n % MEMBERS], n // MEMBERS)))

    await asyncio.gather(*(submitter() for _ in range(CONCURRENCY)))
    return ids


async def _payable(payables, organization_id: str, count: int) -> None:
    """The payments process holds every claim as payable (its projection caught up)."""
    async def probe():
        n = await payables.count_documents({"organization_id": organization_id, "state": "payable"})
        return n if n >= count else None

    await eventually(probe, timeout=300, interval=0.5, what=f"{count} payable claims of the organisation")


async def _run(operator: httpx.AsyncClient, key: str) -> httpx.Response:
    return await operator.post("/v1/admin/payment-runs", json={}, headers={"Idempotency-Key": key}, timeout=600.0)


async def test_kill_9_replay_and_concurrent_runs_pay_every_claim_once(platform, running_stack, org, capsys):
    stack = running_stack.stack
    operator = await platform.operator()
    report: dict = {}

    def new_member(i: int):
        return platform.new_member(plan_id=PLAN, dob=f"19{60 + i % 40}-0{1 + i % 9}-1{i % 10}")

    members = [await new_member(0)]
    members += await asyncio.gather(*(new_member(i) for i in range(1, MEMBERS)))
    client = httpx.AsyncClient(base_url=running_stack.base_url, timeout=30.0, headers=dict(org.client.headers),
                               limits=httpx.Limits(max_connections=4 * CONCURRENCY))
    mongo = AsyncMongoClient(running_stack.mongodb_uri, tz_aware=True)
    db = mongo["test_payments"]
    try:
        started = time.monotonic()
        first_ids = await _submit_many(client, org, members, 0, CLAIMS)
        await _payable(db["payables"], org.organization_id, CLAIMS)
        report["claims_processed_s"] = round(time.monotonic() - started, 1)

        # ------------------------------------------------------------ kill -9 in the middle of a run
        key = str(uuid.uuid4())
        request = asyncio.create_task(_run(operator, key))
        run_doc = await eventually(lambda: db["payment_runs"].find_one({"idempotency_key": key}), timeout=60,
                                   interval=0.01, what="the run's document")
        phases = ["collecting", "collected", "planned", "balanced", "paid", "completed"]

        async def at_kill_phase():
            doc = await db["payment_runs"].find_one({"_id": run_doc["_id"]}, {"phase": 1})
            return doc if phases.index(doc["phase"]) >= phases.index(KILL_PHASE) else None

        seen = await eventually(at_kill_phase, timeout=120, interval=0.005, what=f"the run to reach {KILL_PHASE}")
        await asyncio.to_thread(stack.stop_service, "payments", kill=True)
        report["killed_in_phase"] = seen["phase"]
        report["payables_taken_at_kill"] = await db["payables"].count_documents({"run_id": run_doc["_id"]})
        killed = await asyncio.gather(request, return_exceptions=True)
        report["request_answer_at_kill"] = getattr(killed[0], "status_code", type(killed[0]).__name__)
        restarted = time.monotonic()
        await asyncio.to_thread(stack.start_service, "payments")
        replay = await _run(operator, key)
        assert replay.status_code == 201, replay.text
        run = replay.json()
        report["finished_after_restart_s"] = round(time.monotonic() - restarted, 1)
        assert run["status"] == "completed"

        # ------------------------------------------------------------ two runs at once, and a replay
        more_ids = await _submit_many(client, org, members, CLAIMS, MORE)
        await _payable(db["payables"], org.organization_id, MORE)
        keys = [str(uuid.uuid4()), str(uuid.uuid4())]
        answers = await asyncio.gather(_run(operator, keys[0]), _run(operator, keys[1]), _run(operator, keys[0]))
        assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
        assert answers[0].json()["payment_run_id"] == answers[2].json()["payment_run_id"]
        assert answers[0].json()["payment_run_id"] != answers[1].json()["payment_run_id"]
        concurrent_runs = {answers[0].json()["payment_run_id"], answers[1].json()["payment_run_id"]}

        # ------------------------------------------------------------ count them
        everything = set(first_ids) | set(more_ids)
        assert len(everything) == CLAIMS + MORE
        mine = [await remittance(client, r["remittance_id"]) for r in await remittances_of(client)]
        occurrences = Counter(c["claim_id"] for doc in mine for c in doc["claims"] if c["status_code"] == "1")
        assert set(occurrences) == everything and set(occurrences.values()) == {1}, (
            f"{len(everything - set(occurrences))} claims unpaid, "
            f"{sum(1 for n in occurrences.values() if n > 1)} paid twice")
        by_run = {doc["payment_run_id"]: doc for doc in mine}
        killed_run = by_run[run["payment_run_id"]]
        assert {c["claim_id"] for c in killed_run["claims"]} == set(first_ids)
        assert {c["claim_id"] for doc in mine if doc["payment_run_id"] in concurrent_runs
                for c in doc["claims"]} == set(more_ids)
        for doc in mine:
            assert_balances(doc)
        claims_paid = sum((money(c["paid"]) for doc in mine for c in doc["claims"]), Decimal("0"))
        payments = sum((money(doc["payment"]["amount"]) for doc in mine), Decimal("0"))
        assert payments == claims_paid
        traces = [doc["payment"]["eft_trace_number"] for doc in mine]
        assert len(set(traces)) == len(traces)

        # Every claim says paid, by the remittance that lists it, exactly once on its timeline.
        paid_by = {c["claim_id"]: doc["remittance_id"] for doc in mine for c in doc["claims"]}

        async def all_paid():
            pages, cursor, seen_paid = 0, None, {}
            while True:
                params = {"status": "paid", "limit": 100, **({"cursor": cursor} if cursor else {})}
                page = (await client.get("/v1/claims", params=params)).json()
                for view in page["items"]:
                    seen_paid[view["claim_id"]] = view
                cursor, pages = page["next_cursor"], pages + 1
                if not cursor:
                    break
            return seen_paid if everything <= set(seen_paid) else None

        views = await eventually(all_paid, timeout=180, interval=1.0, what="every claim to be paid")
        for claim_id in everything:
            view = views[claim_id]
            assert view["payment"]["remittance_id"] == paid_by[claim_id]
            assert [t["status"] for t in view["timeline"]].count("paid") == 1
        paid_events = Counter(v["subject"] for v, _ in await read_topic(running_stack.kafka_bootstrap, "claims.events")
                              if isinstance(v, dict) and v.get("type") == "claim.paid" and v["subject"] in everything)
        assert set(paid_events) == everything and set(paid_events.values()) == {1}
        report["remittances"] = len(mine)
        report["paid_total"] = str(payments)
    finally:
        await client.aclose()
        await mongo.close()
        with capsys.disabled():
            print(f"\npayment run kill -9: {report}")
