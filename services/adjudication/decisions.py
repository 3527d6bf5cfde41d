"""Adjudication's record of its decisions: one document per (claim, version).

A redelivered or replayed claim.received finds its decision here and republishes
exactly the same one (same id, same amounts), even if the fee schedule or the
member's coverage changed in between: money decided once stays decided.

The decision is priced first and then inserted under its deterministic id; only when
that insert finds the id taken is the stored decision read back and used. A first
adjudication (the common case) therefore costs one insert, shared with concurrent
ones (infra/batching.py), instead of a look-up and an insert.
"""

from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.events.claims import ClaimReceived
from infra.batching import BatchedInserts
from services.adjudication.domain.decision import Decision, adjudication_id_for
from services.adjudication.domain.fee_schedule import FeeSchedule
from services.adjudication.domain.pricing import price_claim
from services.adjudication.members import MemberCoverageCopy


class DecisionBook:
    def __init__(self, db: AsyncDatabase, fee_schedule: FeeSchedule, members: MemberCoverageCopy) -> None:
        self.decisions = db["decisions"]
        self._inserts = BatchedInserts(self.decisions)
        self.fee_schedule = fee_schedule
        self.members = members

    async def decide(self, claim: ClaimReceived, claim_version: int) -> Decision:
        adjudication_id = adjudication_id_for(claim.claim_id, claim_version)
        member = await self.members.find_allowing_for_lag(claim.member_id)
        decision = price_claim(
            claim.to_data(), self.fee_schedule, member=member,
            adjudicated_at=datetime.now(UTC), claim_version=claim_version,
        )
        try:
            await self._inserts.insert(
                {"_id": adjudication_id, "claim_id": decision.claim_id, "decision": decision.to_data()}
            )
        except DuplicateKeyError:
            # Decided before (a redelivery or replay): the recorded decision stands.
            stored = await self.decisions.find_one({"_id": adjudication_id})
            return Decision.model_validate(stored["decision"])
        return decision
