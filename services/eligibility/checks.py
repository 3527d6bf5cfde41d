"""Eligibility checks: answer, keep the answer until it expires, audit the access.

Each check is an audited read of patient data: who asked (client, organisation),
about which member, when. The audit record goes through the outbox to audit.events
so it survives a Kafka outage like any other event.
"""

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta

import orjson

from pymongo.asynchronous.database import AsyncDatabase

from infra.audit import record_access
from infra.eventstore import EventStore
from infra.http.auth import Principal
from refdata.plans import Catalogue, benefit_year
from services.eligibility.accumulators import AccumulatorCopy
from services.eligibility.check_store import CheckStore, new_check_id
from services.eligibility.domain import CheckRequest, evaluate
from services.eligibility.members import Members
from services.eligibility.network import NetworkContracts

log = logging.getLogger(__name__)
SOURCE = "/services/eligibility"
MEMO_SIZE = 10_000


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
        insert_linger: float = 0.0,
    ) -> None:
        self.stored = CheckStore(db, ttl, linger=insert_linger)
        self.store = store
        self.members = members
        self.accumulators = accumulators
        self.network = network
        self.catalogue = catalogue
        self.ttl = ttl
        self._answers: dict[tuple, tuple] = {}

    async def run(self, request: CheckRequest, principal: Principal, *, lookup: bool = True) -> bytes:
        """The answer as JSON. lookup False: the id cannot be one this service issued, so it is not looked up."""
        if lookup:
            member, accumulators, contracted, family = await self._inputs(request, principal)
        else:
            member, accumulators, contracted, family = None, [], None, []
        status, answered = self._evaluate(request, member, accumulators, contracted, family)
        now = datetime.now(UTC)
        check_id = new_check_id(now)
        answer = {
            "check_id": check_id,
            **answered,
            "checked_at": _instant(now),
            "expires_at": _instant(now + self.ttl),
        }
        body = orjson.dumps(answer)
        doc = {
            "_id": check_id,
            "organization_id": principal.organization_id,
            "client_id": principal.client_id,
            "member_id": request.member_id,
            "expires_at": now + self.ttl,
            "status": status,
            # The answer as the JSON it was sent as: one binary field is far cheaper for
            # FerretDB to store than the nested document (it keeps a schema per field),
            # and a GET sends it back byte for byte.
            "answer_json": body,
        }
        await asyncio.gather(
            self.stored.insert(doc, now),
            record_access(
                self.store, principal, source=SOURCE, action="eligibility.check", at=now,
                resource=f"eligibility-checks/{check_id}", member_id=request.member_id, outcome=status,
            ),
        )
        return body

    def _evaluate(self, request: CheckRequest, member, accumulators, contracted, family) -> tuple[str, dict]:
        """evaluate() is pure, so its JSON is memoised on everything it reads: the same
        question about the same state (the front desk asking again, a retry) is answered
        without rebuilding the result's models."""
        key = (
            request.member_id, request.date_of_birth, request.date_of_service, request.procedure_codes,
            member.version if member is not None else None, id(member) if member is not None else None,
            tuple((a.plan_year, a.deductible_total, a.out_of_pocket_total) for a in accumulators), contracted,
            tuple((f.family_id, f.plan_year, f.deductible_total, f.out_of_pocket_total) for f in family),
        )
        hit = self._answers.get(key)
        if hit is None or hit[0] is not member:
            result = evaluate(request, member, accumulators, self.catalogue, contracted, family)
            hit = (member, result.status, result.model_dump(mode="json"))
            if len(self._answers) >= MEMO_SIZE:
                self._answers.clear()
            self._answers[key] = hit
        return hit[1], hit[2]

    async def _inputs(self, request: CheckRequest, principal: Principal) -> tuple:
        """(member, accumulators, contracted plans, family accumulators) for the check."""
        year = benefit_year(request.date_of_service)
        warm = self._from_memory(request.member_id, year, principal)
        if warm is not None:
            return warm  # no database, and no tasks to schedule
        member, accumulators, contracted = await asyncio.gather(
            self.members.current(request.member_id),
            self.accumulators.for_member_year(request.member_id, year),
            self._contracted(principal),
        )
        # The family is known only from the member: one more round trip, for family policies
        # only, and only for a caller who proved the birth date (nothing more to learn otherwise).
        proved = member is not None and member.date_of_birth == request.date_of_birth
        family_id = member.family_id if proved else None
        family = await self.accumulators.for_family_year(family_id, year) if family_id else []
        return member, accumulators, contracted, family

    def _from_memory(self, member_id: str, year: int, principal: Principal) -> tuple | None:
        member = self.members.cached(member_id)
        if member is None:
            return None
        hit, accumulators = self.accumulators.cached(member_id, year)
        if not hit:
            return None
        family: list = []
        if member.family_id is not None:
            hit, family = self.accumulators.cached_family(member.family_id, year)
            if not hit:
                return None
        if principal.organization_id is None:
            return member, accumulators, None, family
        contracted = self.network.cached(principal.organization_id)
        return None if contracted is None else (member, accumulators, contracted, family)

    async def _contracted(self, principal: Principal) -> frozenset[str] | None:
        # Payer staff asking on nobody's behalf get no network answer (null), not "out".
        if principal.organization_id is None:
            return None
        return await self.network.contracted_plans(principal.organization_id)

    async def get(self, check_id: str, principal: Principal) -> bytes | None:
        """The stored answer as JSON, or None when missing, expired or not the caller's."""
        doc = await self.stored.find(check_id)
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
            outcome=_status(doc), organization_id=doc.get("organization_id"),
        )
        return doc["answer_json"] if "answer_json" in doc else orjson.dumps(doc["answer"])

    async def sweep(self) -> int:
        return await self.stored.sweep(datetime.now(UTC))

    async def sweep_forever(self, interval: float) -> None:
        while True:
            try:
                removed = await self.sweep()
                if removed:
                    log.info("expired hours of checks dropped", extra={"count": removed})
            except Exception as exc:  # noqa: BLE001 - the sweeper must outlive outages
                log.warning("sweep failed", extra={"error_type": type(exc).__name__})
            await asyncio.sleep(interval)


def _status(doc: dict) -> str:
    # Checks stored before answers were kept as JSON carry the answer as a document.
    return doc["status"] if "status" in doc else doc["answer"]["status"]


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def today() -> date:
    return datetime.now(UTC).date()
