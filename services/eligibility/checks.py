"""Eligibility checks: answer, keep the answer until it expires, audit the access.

Each check is an audited read of patient data: who asked (client, organisation),
about which member, when. The audit record goes through the outbox to audit.events
so it survives a Kafka outage like any other event.
"""

import asyncio
import logging
import uuid
from datetime import UTC, date, datetime, timedelta

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from infra.audit import record_access
from infra.batching import BatchedInserts
from infra.eventstore import EventStore
from infra.http.auth import Principal
from refdata.plans import Catalogue, benefit_year
from services.eligibility.accumulators import AccumulatorCopy
from services.eligibility.domain import CheckRequest, evaluate
from services.eligibility.members import Members
from services.eligibility.network import NetworkContracts

log = logging.getLogger(__name__)
SOURCE = "/services/eligibility"


class Checks:
    def __init__(
        self,
        db: AsyncDatabase,
        store: EventStore,
        members: Members,
        accumulators: AccumulatorCopy,
        network: NetworkContracts,
        catalogue: Catalogue,
        ttl: timedelta,
    ) -> None:
        self.checks = db["checks"]
        self._inserts = BatchedInserts(self.checks)
        self.store = store
        self.members = members
        self.accumulators = accumulators
        self.network = network
        self.catalogue = catalogue
        self.ttl = ttl

    async def ensure_indexes(self) -> None:
        await self.checks.create_index([("expires_at", ASCENDING)])

    async def run(self, request: CheckRequest, principal: Principal) -> dict:
        member, accumulators, contracted = await asyncio.gather(
            self.members.load(request.member_id),
            self.accumulators.for_member_year(request.member_id, benefit_year(request.date_of_service)),
            self._contracted(principal),
        )
        result = evaluate(request, member, accumulators, self.catalogue, contracted)
        now = datetime.now(UTC)
        check_id = str(uuid.uuid4())
        answer = {
            "check_id": check_id,
            **result.model_dump(mode="json"),
            "checked_at": _instant(now),
            "expires_at": _instant(now + self.ttl),
        }
        doc = {
            "_id": check_id,
            "organization_id": principal.organization_id,
            "client_id": principal.client_id,
            "member_id": request.member_id,
            "expires_at": now + self.ttl,
            "answer": answer,
        }
        await asyncio.gather(
            self._inserts.insert(doc),
            record_access(
                self.store, principal, source=SOURCE, action="eligibility.check", at=now,
                resource=f"eligibility-checks/{check_id}", member_id=request.member_id, outcome=answer["status"],
            ),
        )
        return answer

    async def _contracted(self, principal: Principal) -> frozenset[str] | None:
        # Payer staff asking on nobody's behalf get no network answer (null), not "out".
        if principal.organization_id is None:
            return None
        return await self.network.contracted_plans(principal.organization_id)

    async def get(self, check_id: str, principal: Principal) -> dict | None:
        doc = await self.checks.find_one({"_id": check_id})
        if doc is None:
            return None
        if not principal.can_see(doc.get("organization_id")):
            # Refused, and answered like a missing id; the attempt itself is audited.
            await record_access(
                self.store, principal, source=SOURCE, action="eligibility.check.read",
                resource=f"eligibility-checks/{check_id}", member_id=doc.get("member_id"),
                outcome="denied", organization_id=doc.get("organization_id"),
            )
            return None
        if doc["expires_at"] <= datetime.now(UTC):
            return None  # expired: gone for the caller even before the sweeper removes it
        await record_access(
            self.store, principal, source=SOURCE, action="eligibility.check.read",
            resource=f"eligibility-checks/{check_id}", member_id=doc.get("member_id"),
            outcome=doc["answer"]["status"], organization_id=doc.get("organization_id"),
        )
        return doc["answer"]

    async def sweep(self) -> int:
        result = await self.checks.delete_many({"expires_at": {"$lte": datetime.now(UTC)}})
        return result.deleted_count

    async def sweep_forever(self, interval: float) -> None:
        while True:
            try:
                removed = await self.sweep()
                if removed:
                    log.info("expired checks removed", extra={"count": removed})
            except Exception as exc:  # noqa: BLE001 - the sweeper must outlive outages
                log.warning("sweep failed", extra={"error_type": type(exc).__name__})
            await asyncio.sleep(interval)


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def today() -> date:
    return datetime.now(UTC).date()
