"""Payment runs, each step one atomic document write (ADR 15).

A run is a document (`payment_runs`, `_id` the run id) whose `phase` says how far it
got. Every step is idempotent and only moves the phase forward once it is done, so a
process killed at any point, restarted, resumes the run from its phase and ends with
the result an uninterrupted run would have had:

  collecting  every payable up to the cutoff moves payable -> in_run for this run
              (one update per document, atomically; one run takes a payable, never two)
  collected   the run's set is fixed; per organisation a remittance is planned
              (domain: plan_run) against its carried balance, given its EFT trace from
              one counter, and stored (remittances.py: chunks, then header); a
              remittance already stored is kept, not planned again
  planned     each organisation's carried balance moves from the remittance's
              balance_before to its balance_after, once (the balance document records
              the last remittance applied)
  balanced    the phase's next move is the payment itself: the run's payables (in_run
              with its id) are paid from then on, each with its organisation's
              remittance (remittance ids are deterministic from run and organisation)
  paid        a claim closed (replaced, voided) while the run held it gets its reversal
              payable for the next run; then remittance.issued and one
              claim.payment_issued per paid claim are published (deterministic event
              ids: a republish after a crash is a duplicate that consumers drop)
  completed   the summary the API answers with

Runs execute one at a time (an in-process lock and, across replicas, a lease in
MongoDB renewed while a run executes), so two runs never plan against the same carried
balance. A run requested while another executes waits for it, then finds what is left.
"""

from __future__ import annotations

import asyncio
import logging
import time as monotonic
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts import topics
from contracts.envelope import new_event
from contracts.events.adjudication import (
    CLAIM_PAYMENT_ISSUED,
    REMITTANCE_ISSUED,
    ClaimPaymentIssued,
    RemittanceIssued,
)
from infra.lease import Lease
from infra.publishing import event_record, publishing_span
from services.adjudication.payments import metrics
from services.adjudication.payments.domain import Payable, eft_trace_number, issue_remittance, plan_run
from services.adjudication.payments.payables import IN_RUN, PAYABLE, Payables, payable_of
from services.adjudication.payments.remittances import Remittances

log = logging.getLogger(__name__)

SOURCE = "/services/payments"
RUN_NAMESPACE = uuid.UUID("0d3f1a9e-5b7c-4e2d-8a61-3c9b2f4e7d15")
EVENT_NAMESPACE = uuid.UUID("6a2e9c41-8f3b-4d57-b1e0-7c4d9a2f5e83")
PHASES = ("collecting", "collected", "planned", "balanced", "paid", "completed")
TRACE_COUNTER = "eft_trace"


def scheduled_run_id(slot: datetime) -> str:
    return str(uuid.uuid5(RUN_NAMESPACE, f"schedule:{slot.isoformat()}"))


def schedule_slot(now: datetime, interval_seconds: float) -> datetime:
    """The start of the schedule's interval that `now` is in: a run's cutoff and its identity."""
    epoch = now.timestamp()
    return datetime.fromtimestamp(epoch - epoch % interval_seconds, UTC)


@dataclass(frozen=True)
class RunRequest:
    payment_run_id: str
    cutoff: datetime
    requested_by: str
    fingerprint: str | None = None
    idempotency_key: str | None = None


class RunConflict(Exception):
    """The run id exists with another request body (the Idempotency-Key reused)."""


class PaymentRuns:
    def __init__(self, db: AsyncDatabase, payables: Payables, remittances: Remittances,
                 producer_factory, *, payer_id: str, lease_seconds: float = 10.0) -> None:
        self.runs = db["payment_runs"]
        self.balances = db["carried_balances"]
        self.counters = db["counters"]
        self.payables = payables
        self.remittances = remittances
        self.payer_id = payer_id
        self.lease = Lease(db, "payment-runs", ttl_seconds=lease_seconds)
        self._producer_factory = producer_factory
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._taken_cache: dict[str, list[tuple[Payable, str | None]]] = {}

    async def ensure_indexes(self) -> None:
        await self.runs.create_index([("phase", 1)])

    async def close(self) -> None:
        if self._producer is not None:
            try:
                await self._producer.stop()
            finally:
                self._producer = None

    # ---------------------------------------------------------------- requests

    async def request(self, run: RunRequest) -> tuple[dict[str, Any], bool]:
        """The run, created or found (replayed: True), executed to completion."""
        doc = {
            "_id": run.payment_run_id, "cutoff": run.cutoff, "requested_by": run.requested_by,
            "idempotency_key": run.idempotency_key, "body_sha256": run.fingerprint,
            "requested_at": datetime.now(UTC), "phase": "collecting",
        }
        replayed = False
        try:
            await self.runs.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.runs.find_one({"_id": run.payment_run_id})
            if existing.get("body_sha256") != run.fingerprint:
                raise RunConflict(run.payment_run_id) from None
            replayed = True
        return await self.execute(run.payment_run_id), replayed

    async def pending(self) -> list[str]:
        """Runs not completed (a crash, or a request another replica took), oldest first."""
        cursor = self.runs.find({"phase": {"$ne": "completed"}}, {"_id": 1, "requested_at": 1})
        docs = [doc async for doc in cursor]
        return [doc["_id"] for doc in sorted(docs, key=lambda d: (d["requested_at"], d["_id"]))]

    async def anything_payable(self, cutoff: datetime) -> bool:
        return await self.payables.docs.find_one(
            {"state": PAYABLE, "at": {"$lte": cutoff}, "closed_by": None}, {"_id": 1}) is not None

    # --------------------------------------------------------------- executing

    async def execute(self, payment_run_id: str) -> dict[str, Any]:
        """Drive the run to `completed` (resuming from its phase) and return its document."""
        async with self._lock:
            while True:
                run = await self.runs.find_one({"_id": payment_run_id})
                if run is None:
                    raise KeyError(payment_run_id)
                if run["phase"] == "completed":
                    return run
                if await self.lease.acquire():
                    break
                # Another replica holds the runs' lease: it is executing this run or another.
                await asyncio.sleep(0.5)
            renewing = asyncio.create_task(self._renew())
            started = monotonic.monotonic()
            try:
                for pending in [r for r in await self.pending() if r != payment_run_id] + [payment_run_id]:
                    await self._drive(pending)
            finally:
                renewing.cancel()
                await asyncio.gather(renewing, return_exceptions=True)
            metrics.RUN_SECONDS.observe(monotonic.monotonic() - started)
            return await self.runs.find_one({"_id": payment_run_id})

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.lease.ttl.total_seconds() / 3)
            if not await self.lease.acquire():
                log.error("payment-run lease lost while executing")

    async def _drive(self, payment_run_id: str) -> None:
        run = await self.runs.find_one({"_id": payment_run_id})
        steps = {
            "collecting": self._collect, "collected": self._plan, "planned": self._balance,
            "balanced": self._issue, "paid": self._publish,
        }
        while run["phase"] != "completed":
            next_phase = PHASES[PHASES.index(run["phase"]) + 1]
            started = monotonic.monotonic()
            extra = await steps[run["phase"]](run) or {}
            elapsed = monotonic.monotonic() - started
            metrics.STEP_SECONDS.labels(run["phase"]).observe(elapsed)
            log.info("payment run step done", extra={"payment_run_id": payment_run_id, "step": run["phase"],
                                                     "duration_ms": round(elapsed * 1000)})
            run = await self.runs.find_one_and_update(
                {"_id": payment_run_id, "phase": run["phase"]},
                {"$set": {"phase": next_phase, **extra}},
                return_document=ReturnDocument.AFTER,
            )
            if run is None:
                raise RuntimeError(f"payment run {payment_run_id} moved on under its lease")

    async def _collect(self, run: dict[str, Any]) -> dict[str, Any]:
        await self.payables.docs.update_many(
            {"state": PAYABLE, "at": {"$lte": run["cutoff"]}, "closed_by": None},
            {"$set": {"state": IN_RUN, "run_id": run["_id"]}},
        )
        return {"paid_at": datetime.now(UTC)}

    async def _taken(self, run_id: str) -> list[tuple[Payable, str | None]]:
        """The run's payables with their member ids: fixed once collected, so read once per process."""
        if run_id not in self._taken_cache:
            self._taken_cache.clear()
            self._taken_cache[run_id] = [(payable_of(doc), doc.get("member_id")) async for doc in
                                         self.payables.docs.find({"run_id": run_id}, {"payable": 1, "member_id": 1})]
        return self._taken_cache[run_id]

    async def _plan(self, run: dict[str, Any]) -> dict[str, Any]:
        taken = await self._taken(run["_id"])
        organizations = sorted({payable.organization_id for payable, _ in taken})
        balances = {doc["_id"]: Decimal(doc["balance"]) async for doc in
                    self.balances.find({"_id": {"$in": organizations}})} if organizations else {}
        plan = plan_run(run["_id"], [payable for payable, _ in taken], balances, run["cutoff"])
        stored = {doc["_id"] for doc in await self.remittances.of_run(run["_id"])}
        missing = [p for p in plan.remittances if p.remittance_id not in stored]
        if missing:
            # One block of trace sequences for the run's new remittances; a retry after a
            # crash takes another block (gaps, never a trace used twice).
            counter = await self.counters.find_one_and_update(
                {"_id": TRACE_COUNTER}, {"$inc": {"sequence": len(missing)}},
                upsert=True, return_document=ReturnDocument.AFTER,
            )
            first = counter["sequence"] - len(missing) + 1
            for index, remittance_plan in enumerate(missing):
                remittance = issue_remittance(
                    remittance_plan, eft_trace_number=eft_trace_number(self.payer_id, first + index),
                    paid_at=run["paid_at"],
                )
                await self.remittances.store(remittance, remittance_plan)
        return {"remittance_ids": [p.remittance_id for p in plan.remittances]}

    async def _balance(self, run: dict[str, Any]) -> None:
        for header in await self.remittances.of_run(run["_id"]):
            before, after = Decimal(header["balance_before"]), Decimal(header["balance_after"])
            if before == after:
                continue
            try:
                await self.balances.update_one(
                    {"_id": header["organization_id"], "last_remittance_id": {"$ne": header["_id"]}},
                    {"$set": {"balance": str(after), "last_remittance_id": header["_id"],
                              "updated_at": datetime.now(UTC)}},
                    upsert=True,
                )
            except DuplicateKeyError:
                pass  # applied before: the document names this remittance

    async def _issue(self, run: dict[str, Any]) -> dict[str, Any]:
        # Nothing to write but the phase: moving it to `paid` is what pays the run's payables.
        return {"issued_at": datetime.now(UTC)}

    async def _reverse_closed(self, run: dict[str, Any]) -> None:
        """A claim replaced or voided while the run held it: its reversal goes to the next run."""
        async for marker in self.payables.closures.find({"run_id": run["_id"]}):
            doc = await self.payables.get(marker["_id"])
            if doc is not None:
                await self.payables.ensure_reversal(doc)

    async def _publish(self, run: dict[str, Any]) -> dict[str, Any]:
        await self._reverse_closed(run)
        headers = await self.remittances.of_run(run["_id"])
        paid_claims: dict[str, list[tuple[Payable, str | None]]] = defaultdict(list)
        for payable, member_id in await self._taken(run["_id"]):
            if payable.kind == "claim" and payable.status_code == "1":
                paid_claims[payable.organization_id].append((payable, member_id))
        events = []
        for header in headers:
            payment = header["payment"]
            events.append((header["organization_id"], new_event(
                source=SOURCE, type=REMITTANCE_ISSUED, subject=header["_id"], organizationid=header["organization_id"],
                partitionkey=header["organization_id"], id=_event_id("remittance", header["_id"]),
                data=RemittanceIssued(
                    remittance_id=header["_id"], payment_run_id=run["_id"], organization_id=header["organization_id"],
                    eft_trace_number=payment["eft_trace_number"], amount=payment["amount"], paid_at=payment["paid_at"],
                    claim_count=header["claim_count"],
                    provider_adjustments_total=sum((Decimal(a["amount"]) for a in header.get("provider_adjustments", [])),
                                                   Decimal("0.00")),
                ).model_dump(mode="json"),
            )))
            for payable, member_id in paid_claims[header["organization_id"]]:
                events.append((header["organization_id"], new_event(
                    source=SOURCE, type=CLAIM_PAYMENT_ISSUED, subject=payable.claim_id,
                    organizationid=header["organization_id"], partitionkey=member_id or payable.claim_id,
                    id=_event_id("payment", header["_id"], payable.claim_id),
                    data=ClaimPaymentIssued(
                        claim_id=payable.claim_id, remittance_id=header["_id"], payment_run_id=run["_id"],
                        organization_id=header["organization_id"], eft_trace_number=payment["eft_trace_number"],
                        paid_at=payment["paid_at"], amount=payable.paid,
                    ).model_dump(mode="json"),
                )))
        await self._send([event for _, event in events])
        total = sum((Decimal(h["payment"]["amount"]) for h in headers), Decimal("0.00"))
        claims = sum(h["claim_count"] for h in headers)
        metrics.record_run(len(headers), claims, total)
        return {"summary": {"payments": len(headers), "claims": claims, "total": f"{total:.2f}"},
                "completed_at": datetime.now(UTC)}

    async def _send(self, events: list) -> None:
        if not events:
            return
        if self._producer is None:
            producer = self._producer_factory()
            await producer.start()
            self._producer = producer
        futures = []
        for event in events:
            with publishing_span(event.type) as carrier:
                record = event_record(event, carrier)
                futures.append(await self._producer.send(topics.ADJUDICATION, record.value, key=record.key,
                                                         headers=record.headers))
        await asyncio.gather(*futures)

    # ---------------------------------------------------------------- schedule

    async def run_schedule(self, interval_seconds: float) -> None:
        """A run per interval (its slot the cutoff), and any run left unfinished by a crash."""
        if interval_seconds <= 0:
            await self._resume_forever()
            return
        while True:
            try:
                for pending in await self.pending():
                    await self.execute(pending)
                slot = schedule_slot(datetime.now(UTC), interval_seconds)
                if await self.anything_payable(slot):
                    await self.request(RunRequest(scheduled_run_id(slot), slot, "schedule"))
            except Exception:  # noqa: BLE001 - the schedule outlives a failed run; it resumes next time
                log.exception("scheduled payment run failed; retrying at the next interval")
            now = datetime.now(UTC)
            next_slot = schedule_slot(now, interval_seconds) + timedelta(seconds=interval_seconds)
            await asyncio.sleep(max((next_slot - now).total_seconds(), 0.05))

    async def _resume_forever(self) -> None:
        # Without a schedule, still finish what a crash interrupted, soon after start.
        while True:
            try:
                for pending in await self.pending():
                    await self.execute(pending)
                return
            except Exception:  # noqa: BLE001
                log.exception("resuming payment runs failed; retrying")
                await asyncio.sleep(2.0)


def _event_id(*parts: str) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, ":".join(parts)))
