"""Per organisation and procedure, the recent decisions people made: what gold carding reads.

Fed by authorizations.events (approved, denied by a reviewer or operator; auto-approvals do
not count, so a rule never feeds its own rate). One document per (organisation, code)
holding each decision under its authorization id: a redelivery sets the same field again
(idempotent without a version), and decisions older than the look-back are dropped on
the next write. Decisions of different members for one (organisation, code) arrive
concurrently: the write takes the document's lock (FerretDB v1 loses one of two
concurrent updates of a document, infra/document_locks.py).
"""

from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from contracts.envelope import CloudEvent
from contracts.events.authorizations import AUTHORIZATION_APPROVED, AUTHORIZATION_DENIED
from infra.document_locks import document_lock
from services.authorizations.domain import DecisionStats

GROUP = "authorizations-gold-card"
PEOPLE = ("reviewer", "operator")


def _key(organization_id: str, code: str) -> str:
    return f"{organization_id}:{code}"


class DecisionCounts:
    def __init__(self, db: AsyncDatabase, lookback_days: int) -> None:
        self.docs = db["decision_counts"]
        self.lookback = timedelta(days=lookback_days)

    def subscriptions(self) -> dict:
        return {AUTHORIZATION_APPROVED: self.on_approved, AUTHORIZATION_DENIED: self.on_denied}

    async def on_approved(self, payload, event: CloudEvent) -> None:
        await self._record(payload, approved=True, at=payload.approved_at)

    async def on_denied(self, payload, event: CloudEvent) -> None:
        await self._record(payload, approved=False, at=payload.denied_at)

    async def _record(self, payload, *, approved: bool, at: datetime) -> None:
        if payload.decided_by_role not in PEOPLE:
            return
        for code in payload.procedure_codes:
            key = _key(payload.organization_id, code)
            async with document_lock(self.docs.full_name, key):
                doc = await self.docs.find_one({"_id": key}) or {}
                cutoff = datetime.now(UTC) - self.lookback
                stale = {f"decisions.{aid}": "" for aid, d in doc.get("decisions", {}).items()
                         if _at(d["at"]) < cutoff and aid != payload.authorization_id}
                update: dict = {"$set": {f"decisions.{payload.authorization_id}": {"approved": approved,
                                                                                    "at": at.isoformat()}}}
                if stale:
                    update["$unset"] = stale
                await self.docs.update_one({"_id": key}, update, upsert=True)

    async def stats(self, organization_id: str, codes: list[str], now: datetime | None = None) -> dict[str, DecisionStats]:
        cutoff = (now or datetime.now(UTC)) - self.lookback
        found = {}
        for code in codes:
            doc = await self.docs.find_one({"_id": _key(organization_id, code)}) or {}
            recent = [d for d in doc.get("decisions", {}).values() if _at(d["at"]) >= cutoff]
            approved = sum(1 for d in recent if d["approved"])
            found[code] = DecisionStats(approved=approved, denied=len(recent) - approved)
        return found


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
