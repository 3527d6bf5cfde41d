"""The payables: what payment runs pay or take back, a projection of claims.events (ADR 15).

One document per claim (`_id` the claim id) and one per reversal (`<claim id>:reversal`):

    state   payable   -> in_run (a run took it; paid once that run is issued)
            payable   -> withdrawn (the claim was replaced, voided or asked about first)

A payable in a run is paid when the run is: the run document's phase passing
`balanced` is the one write that issues the run's payments, so paying ten thousand
claims does not rewrite ten thousand documents. The projection and the runs write the
same documents, each write one atomic update whose filter says which state it moves
from, so a payable is taken by at most one run and never both withdrawn and paid.
Closing a claim (claim.replaced / claim.voided) records `closed_by` whatever the state,
then, for a claim in a run, a marker in the small `run_closures` collection, then reads
its run's phase; a run, once issued, reads its markers. Whichever of the two writes second sees both facts, and the reversal
of a paid claim is inserted under a deterministic id, so it exists once.

claim_version orders the projection's own events: a redelivered or replayed event at or
below it changes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CloudEvent
from contracts.events.claims import (
    CLAIM_DENIED,
    CLAIM_INFO_REQUESTED,
    CLAIM_PROCESSED,
    CLAIM_REPLACED,
    CLAIM_VOIDED,
    ClaimAdjudicated,
    ClaimInfoRequested,
    ClaimReplaced,
    ClaimVoided,
)
from infra.consumer import TransientError
from services.adjudication.payments.domain import Payable, decision_payable, remittance_id, reversal_payable
from services.adjudication.payments.domain.payables import REVERSAL_SUFFIX

log = logging.getLogger(__name__)

PAYABLE, IN_RUN, WITHDRAWN = "payable", "in_run", "withdrawn"
ISSUED_PHASES = ("paid", "completed")
"""The phases of a run whose payments are issued (runs.py)."""
MAX_ATTEMPTS = 20


def payable_doc(payable: Payable, *, member_id: str | None, claim_version: int | None,
                state: str = PAYABLE) -> dict[str, Any]:
    return {
        "_id": payable.payable_id,
        "kind": payable.kind,
        "claim_id": payable.claim_id,
        "organization_id": payable.organization_id,
        "member_id": member_id,
        "claim_version": claim_version,
        "state": state,
        "at": payable.at,
        "closed_by": None,
        "payable": payable.model_dump(mode="json"),
    }


def payable_of(doc: dict[str, Any]) -> Payable:
    return Payable.model_validate(doc["payable"])


class Payables:
    def __init__(self, db: AsyncDatabase) -> None:
        self.docs = db["payables"]
        self.runs = db["payment_runs"]
        self.closures = db["run_closures"]
        """A marker per claim closed while in a run: the run reads these, not its payables."""

    async def ensure_indexes(self) -> None:
        # Pushed down on real MongoDB; FerretDB v1 scans either way (ADR 15).
        await self.docs.create_index([("state", 1), ("at", 1)])
        await self.docs.create_index([("run_id", 1)])
        await self.closures.create_index([("run_id", 1)])

    def subscriptions(self) -> dict:
        return {
            CLAIM_PROCESSED: self.on_decided, CLAIM_DENIED: self.on_decided,
            CLAIM_INFO_REQUESTED: self.on_info_requested,
            CLAIM_VOIDED: self.on_closed, CLAIM_REPLACED: self.on_closed,
        }

    # ------------------------------------------------------------- the events

    async def on_decided(self, decided: ClaimAdjudicated, event: CloudEvent) -> None:
        version = event.aggregateversion or 0
        outcome = "processed" if event.type == CLAIM_PROCESSED else "denied"
        doc = payable_doc(decision_payable(decided, outcome), member_id=decided.member_id, claim_version=version)
        for _ in range(MAX_ATTEMPTS):
            current = await self.docs.find_one({"_id": decided.claim_id})
            if current is None:
                try:
                    await self.docs.insert_one(doc)
                    return
                except DuplicateKeyError:
                    continue
            if (current.get("claim_version") or 0) >= version:
                return  # already reflected
            if current["state"] == WITHDRAWN and current.get("withdrawn_reason") == "info_requested" \
                    and current.get("closed_by") is None:
                # Decided again after the answer: payable again, at the new amounts.
                result = await self.docs.replace_one(
                    {"_id": current["_id"], "state": WITHDRAWN, "claim_version": current.get("claim_version")}, doc)
                if result.matched_count:
                    return
                continue
            # A second decision for a claim a run already took: the claims service does not
            # decide a paid claim again, so this is a replay of history out of order.
            log.warning("decision for a claim already in a payment run; left as it is",
                        extra={"event_id": event.id, "event_type": event.type})
            return
        raise TransientError("payable kept changing")

    async def on_info_requested(self, requested: ClaimInfoRequested, event: CloudEvent) -> None:
        """An operator asked about a processed claim: not payable until it is decided again."""
        version = event.aggregateversion or 0
        await self.docs.update_one(
            {"_id": requested.claim_id, "state": PAYABLE, "claim_version": {"$lt": version}},
            {"$set": {"state": WITHDRAWN, "withdrawn_reason": "info_requested", "claim_version": version}},
        )

    async def on_closed(self, closed: ClaimVoided | ClaimReplaced, event: CloudEvent) -> None:
        if isinstance(closed, ClaimVoided):
            by, at = closed.voided_by_claim_id, closed.voided_at
        else:
            by, at = closed.replaced_by_claim_id, closed.replaced_at
        doc = await self.docs.find_one_and_update(
            {"_id": closed.claim_id, "closed_by": None},
            {"$set": {"closed_by": by, "closed_at": at}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            doc = await self.docs.find_one({"_id": closed.claim_id})
            if doc is None:
                return  # never decided (a void's original still received): nothing to pay or take back
        await self.settle_closure(doc)

    # ------------------------------------------------------ shared with the runs

    async def settle_closure(self, doc: dict[str, Any]) -> None:
        """A closed claim: withdrawn while payable, reversed once paid, left to the run while in one."""
        for _ in range(MAX_ATTEMPTS):
            if doc["state"] == PAYABLE:
                result = await self.docs.update_one(
                    {"_id": doc["_id"], "state": PAYABLE},
                    {"$set": {"state": WITHDRAWN, "withdrawn_reason": "closed"}},
                )
                if result.matched_count:
                    return
                doc = await self.docs.find_one({"_id": doc["_id"]})  # a run took it meanwhile
                continue
            if doc["state"] == IN_RUN:
                try:
                    await self.closures.insert_one({"_id": doc["_id"], "run_id": doc["run_id"]})
                except DuplicateKeyError:
                    pass
                if await self.is_paid(doc):
                    await self.ensure_reversal(doc)
            return  # in a run not issued yet: the run reverses it once issued; withdrawn: nothing
        raise TransientError("payable kept changing")

    async def is_paid(self, doc: dict[str, Any]) -> bool:
        """In a run whose payments are issued."""
        if doc.get("run_id") is None:
            return False
        run = await self.runs.find_one({"_id": doc["run_id"]}, {"phase": 1})
        return run is not None and run["phase"] in ISSUED_PHASES

    async def ensure_reversal(self, doc: dict[str, Any]) -> None:
        """The reversal (status 22) of a paid claim that was then replaced or voided; once."""
        original = payable_of(doc)
        if doc.get("closed_by") is None or original.kind != "claim" or original.status_code != "1":
            return  # a denial (status 4) paid nothing: nothing to take back
        closed_at = doc["closed_at"]
        reversal = reversal_payable(
            original, original_remittance_id=remittance_id(doc["run_id"], original.organization_id),
            reversed_by_claim_id=doc["closed_by"],
            reversed_at=closed_at if isinstance(closed_at, datetime) else datetime.fromisoformat(closed_at),
        )
        try:
            await self.docs.insert_one(payable_doc(reversal, member_id=doc.get("member_id"), claim_version=None))
        except DuplicateKeyError:
            pass

    async def get(self, payable_id: str) -> dict[str, Any] | None:
        return await self.docs.find_one({"_id": payable_id})


def reversal_id(claim_id: str) -> str:
    return claim_id + REVERSAL_SUFFIX
