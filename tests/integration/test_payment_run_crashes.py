"""A payment run interrupted after any write finishes, on resumption, with an uninterrupted run's result.

Real FerretDB and Kafka, the payments process's own classes in this process: the run's
writes are cut off by an exception at each of its writes in turn (the state a kill -9
at that moment leaves), then a fresh PaymentRuns (another holder of the runs' lease, as
a restarted process) resumes the run. Its remittances, carried balances and payable
states must equal those of a run that was never interrupted on the same payables:
no payable in two payments, none left behind, the same money.

The kill -9 of the real process in the middle of a 1,000-claim run is in
test_payment_run_kill.py; this one reaches every write of every step.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pymongo import AsyncMongoClient

from contracts.adjudicated import AdjudicatedLine, Adjustment, Totals
from contracts.envelope import new_event
from contracts.events.claims import CLAIM_PROCESSED, CLAIM_VOIDED, BillingProvider, ClaimAdjudicated, ClaimVoided
from infra.kafka import create_producer
from infra.settings import PlatformSettings
from services.adjudication.payments.payables import Payables
from services.adjudication.payments.remittances import Remittances
from services.adjudication.payments.runs import PaymentRuns, RunRequest, scheduled_run_id
from tests.support.waiting import eventually

ORGS = ("org-a", "org-b", "org-c")


class Crash(Exception):
    """Stands for the process dying right after a write."""


class CrashingCollection:
    """A collection whose n-th write (counted across the run's collections) succeeds, then crashes."""

    WRITES = ("insert_one", "insert_many", "update_one", "update_many", "replace_one", "find_one_and_update")

    def __init__(self, inner, budget: dict) -> None:
        self._inner = inner
        self._budget = budget

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if name not in self.WRITES:
            return attr

        async def write(*args, **kwargs):
            result = await attr(*args, **kwargs)
            self._budget["writes"] += 1
            if self._budget["writes"] == self._budget["crash_at"]:
                raise Crash(f"after write {self._budget['writes']} ({name} on {self._inner.name})")
            return result

        return write


class CrashingDb:
    def __init__(self, db, budget: dict) -> None:
        self._db = db
        self._budget = budget

    def __getitem__(self, name):
        return CrashingCollection(self._db[name], self._budget)


def _decision(claim_id: str, org: str, paid: str, at: datetime) -> ClaimAdjudicated:
    amount = Decimal(paid)
    line = AdjudicatedLine(
        line_number=1, procedure_code="99213", charge_amount=amount + Decimal("50.00"), allowed_amount=amount,
        deductible=Decimal("0.00"), copay=Decimal("0.00"), coinsurance=Decimal("0.00"), paid_amount=amount,
        patient_responsibility=Decimal("0.00"),
        adjustments=[Adjustment(group="CO", carc="45", amount=Decimal("50.00"))],
    )
    return ClaimAdjudicated(
        claim_id=claim_id, adjudication_id=f"adj-{claim_id}", adjudicated_at=at, lines=[line],
        totals=Totals(charge=amount + Decimal("50.00"), allowed=amount, paid=amount,
                      patient_responsibility=Decimal("0.00")),
        organization_id=org, member_id=f"M{claim_id[-4:]}",
        billing_provider=BillingProvider(npi="1234567893", tin=f"12345678{ORGS.index(org)}"), received_at=at,
    )


async def _seed(payables: Payables, run_id_prefix: str) -> None:
    """Payables of three organisations; org-c's paid claim voided, so its net is negative."""
    at = datetime.now(UTC) - timedelta(minutes=5)
    for org in ORGS:
        for k in range(4):
            claim_id = f"{run_id_prefix}-{org}-{k:04d}"
            event = new_event(source="/test", type=CLAIM_PROCESSED, subject=claim_id, aggregateversion=2, data={})
            await payables.on_decided(_decision(claim_id, org, f"{10 * (k + 1)}.00", at), event)


async def _void(payables: Payables, claim_id: str) -> None:
    voided = ClaimVoided(claim_id=claim_id, voided_by_claim_id=f"{claim_id}-void",
                         voided_at=datetime.now(UTC) - timedelta(minutes=1))
    await payables.on_closed(voided, new_event(source="/test", type=CLAIM_VOIDED, subject=claim_id,
                                               aggregateversion=3, data={}))


async def _outcome(db) -> dict:
    remittances = sorted(
        [(r["organization_id"], r["payment"]["amount"], tuple((a["reason"], a["amount"]) for a in r.get("provider_adjustments", [])),
          tuple(sorted(r["claim_ids"])), r["claim_count"])
         async for r in db["remittances"].find({})])
    balances = sorted([(b["_id"], b["balance"]) async for b in db["carried_balances"].find({})])
    phases = {r["_id"]: r["phase"] async for r in db["payment_runs"].find({})}
    # A payable in a run is paid once its run is issued (payables.py).
    states = sorted([(p["_id"].split("-", 1)[1],
                      "paid" if p["state"] == "in_run" and phases.get(p.get("run_id")) == "completed" else p["state"],
                      p.get("run_id")) async for p in db["payables"].find({})])
    traces = [r["payment"]["eft_trace_number"] async for r in db["remittances"].find({})]
    return {"remittances": remittances, "balances": balances, "states": states, "unique_traces": len(set(traces)) == len(traces)}


async def _scenario(mongo, settings, crash_at: int | None) -> tuple[dict, int]:
    """Two runs: the first pays everything; a void; the second carries org-c's negative net.
    The second run crashes after its `crash_at`-th write (None: never) and is resumed."""
    name = f"test_payrun_{uuid.uuid4().hex[:10]}"
    db = mongo[name]
    prefix = "x"  # the same ids in every scenario's own database, so outcomes compare
    payables = Payables(db)
    runs = PaymentRuns(db, payables, Remittances(db), lambda: create_producer(settings, "payments-test"),
                       payer_id="999000001", lease_seconds=0.3)
    try:
        await _seed(payables, prefix)
        first = await runs.request(RunRequest("run-1", datetime.now(UTC), "test"))
        assert first[0]["phase"] == "completed"
        await _void(payables, f"{prefix}-org-c-0003")
        await _void(payables, f"{prefix}-org-c-0002")
        # org-a has new claims; org-c only its reversals.
        at = datetime.now(UTC) - timedelta(seconds=30)
        for k in range(4, 6):
            claim_id = f"{prefix}-org-a-{k:04d}"
            await payables.on_decided(_decision(claim_id, "org-a", "5.00", at),
                                      new_event(source="/test", type=CLAIM_PROCESSED, subject=claim_id,
                                                aggregateversion=2, data={}))
        budget = {"writes": 0, "crash_at": crash_at or -1}
        crashing_db = CrashingDb(db, budget)
        # A long lease, so that its renewal never adds a write of its own mid-run.
        crashing = PaymentRuns(crashing_db, Payables(crashing_db), Remittances(crashing_db),
                               lambda: create_producer(settings, "payments-test"), payer_id="999000001",
                               lease_seconds=60)
        crashed = False
        try:
            await crashing.request(RunRequest("run-2", datetime.now(UTC), "test"))
        except Crash:
            crashed = True
        finally:
            await crashing.close()
        if crashed:
            # A restarted process: another lease holder, once the dead one's lease ran out
            # (its expiry, without waiting a minute for it).
            await db["leases"].delete_many({})
            resumed = PaymentRuns(db, Payables(db), Remittances(db), lambda: create_producer(settings, "payments-test"),
                                  payer_id="999000001", lease_seconds=0.3)
            try:
                for run_id in await resumed.pending():
                    done = await resumed.execute(run_id)
                    assert done["phase"] == "completed"
            finally:
                await resumed.close()
        assert crashed == (crash_at is not None), f"no crash after write {crash_at}"
        return await _outcome(db), budget["writes"]
    finally:
        await runs.close()
        await mongo.drop_database(name)


@pytest.fixture(scope="module")
async def mongo(infra_stack):
    client = AsyncMongoClient(infra_stack.mongodb_uri, tz_aware=True)
    yield client
    await client.close()


async def test_a_run_resumed_after_a_crash_at_any_write_ends_as_an_uninterrupted_one(mongo, infra_stack):
    settings = PlatformSettings(kafka_bootstrap_servers=infra_stack.kafka_bootstrap)
    expected, writes = await _scenario(mongo, settings, None)
    # The expected result, by hand. Run 1 pays 10 + 20 + 30 + 40 = 100 to each organisation.
    # Run 2: org-a's two new claims, 5 + 5; org-c's reversals -(30 + 40) = -70: payment 0,
    # WO 70, carried -70; org-b has nothing in it.
    assert expected["remittances"] == sorted([
        ("org-a", "100.00", (), tuple(f"x-org-a-{k:04d}" for k in range(4)), 4),
        ("org-b", "100.00", (), tuple(f"x-org-b-{k:04d}" for k in range(4)), 4),
        ("org-c", "100.00", (), tuple(f"x-org-c-{k:04d}" for k in range(4)), 4),
        ("org-a", "10.00", (), ("x-org-a-0004", "x-org-a-0005"), 2),
        ("org-c", "0.00", (("WO", "70.00"),), ("x-org-c-0002", "x-org-c-0003"), 2),
    ])
    assert expected["balances"] == [("org-c", "-70.00")]
    assert expected["unique_traces"]
    assert all(state == "paid" for _, state, _ in expected["states"]) and len(expected["states"]) == 16
    assert writes > 5
    for crash_at in range(1, writes + 1):
        outcome, _ = await _scenario(mongo, settings, crash_at)
        assert outcome == expected, f"crash after write {crash_at} of {writes}"
    print(f"payment run resumed to the same result after a crash at each of its {writes} writes")


async def test_the_schedule_pays_what_was_decided_before_each_slot(mongo, infra_stack):
    settings = PlatformSettings(kafka_bootstrap_servers=infra_stack.kafka_bootstrap)
    name = f"test_payrun_{uuid.uuid4().hex[:10]}"
    db = mongo[name]
    payables = Payables(db)
    runs = PaymentRuns(db, payables, Remittances(db), lambda: create_producer(settings, "payments-test"),
                       payer_id="999000001", lease_seconds=5)
    schedule = asyncio.create_task(runs.run_schedule(1.0))
    try:
        await _seed(payables, "s")

        async def all_paid():
            taken = [p async for p in db["payables"].find({"state": "in_run"})]
            phases = {r["_id"]: r["phase"] async for r in db["payment_runs"].find({})}
            return len(taken) == 12 and all(phases.get(p["run_id"]) == "completed" for p in taken) or None

        await eventually(all_paid, timeout=30, what="the scheduled run to pay the seeded claims")
        scheduled = [r async for r in db["payment_runs"].find({})]
        assert scheduled and all(r["requested_by"] == "schedule" for r in scheduled)
        assert all(r["_id"] == scheduled_run_id(r["cutoff"]) for r in scheduled)
        # Nothing is left payable, so the next slots make no run.
        assert not await runs.anything_payable(datetime.now(UTC))
    finally:
        schedule.cancel()
        await asyncio.gather(schedule, return_exceptions=True)
        await runs.close()
        await mongo.drop_database(name)


async def test_a_claim_closed_while_its_run_is_under_way_is_paid_then_reversed_once(mongo, infra_stack):
    settings = PlatformSettings(kafka_bootstrap_servers=infra_stack.kafka_bootstrap)
    name = f"test_payrun_{uuid.uuid4().hex[:10]}"
    db = mongo[name]
    payables = Payables(db)

    def runs_on(database):
        return PaymentRuns(database, Payables(database), Remittances(database),
                           lambda: create_producer(settings, "payments-test"), payer_id="999000001", lease_seconds=60)

    try:
        await _seed(payables, "r")
        # The run stops right after taking the payables (its lease write, then the collect).
        budget = {"writes": 0, "crash_at": 3}
        crashing = runs_on(CrashingDb(db, budget))
        try:
            await crashing.request(RunRequest("run-1", datetime.now(UTC), "test"))
            raise AssertionError("the run should have crashed")
        except Crash:
            pass
        finally:
            await crashing.close()
        taken = await db["payables"].find_one({"_id": "r-org-a-0001"})
        assert taken["state"] == "in_run"
        # Voided while the run holds it: not withdrawn (the run has it), no reversal yet (not paid).
        await _void(payables, "r-org-a-0001")
        assert await db["payables"].find_one({"_id": "r-org-a-0001:reversal"}) is None
        await db["leases"].delete_many({})
        resumed = runs_on(db)
        try:
            (run_id,) = await resumed.pending()
            await resumed.execute(run_id)
            first = await db["remittances"].find_one({"organization_id": "org-a"})
            assert "r-org-a-0001" in first["claim_ids"]  # paid by the run that held it
            reversal = await db["payables"].find_one({"_id": "r-org-a-0001:reversal"})
            assert reversal["state"] == "payable" and reversal["payable"]["original_remittance_id"] == first["_id"]
            # The next run takes the reversal back, once.
            second, _ = await resumed.request(RunRequest("run-2", datetime.now(UTC), "test"))
            (back,) = [r async for r in db["remittances"].find({"payment_run_id": "run-2"})]
            assert back["claim_ids"] == ["r-org-a-0001"] and back["payment"]["amount"] == "0.00"
            assert [(a["reason"], a["amount"]) for a in back["provider_adjustments"]] == [("WO", "20.00")]
            third, _ = await resumed.request(RunRequest("run-3", datetime.now(UTC), "test"))
            assert third["summary"]["claims"] == 0
        finally:
            await resumed.close()
    finally:
        await mongo.drop_database(name)
