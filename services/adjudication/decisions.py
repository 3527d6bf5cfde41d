"""Adjudication's record of its decisions: one document per (claim, version).

A redelivered or replayed claim.received finds its decision here and republishes
exactly the same one (same id, same amounts), even if the fee schedule changed in
between: money decided once stays decided.
"""

from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.adjudication.domain.decision import Decision, adjudication_id_for
from services.adjudication.domain.fee_schedule import FeeSchedule
from services.adjudication.domain.pricing import price_claim


class DecisionBook:
    def __init__(self, db: AsyncDatabase, fee_schedule: FeeSchedule) -> None:
        self.decisions = db["decisions"]
        self.fee_schedule = fee_schedule

    async def decide(self, claim_received: dict, claim_version: int) -> Decision:
        adjudication_id = adjudication_id_for(claim_received["claim_id"], claim_version)
        stored = await self.decisions.find_one({"_id": adjudication_id})
        if stored is not None:
            return Decision.model_validate(stored["decision"])
        decision = price_claim(
            claim_received, self.fee_schedule, adjudicated_at=datetime.now(UTC), claim_version=claim_version
        )
        try:
            await self.decisions.insert_one(
                {"_id": adjudication_id, "claim_id": decision.claim_id, "decision": decision.to_data()}
            )
        except DuplicateKeyError:
            stored = await self.decisions.find_one({"_id": adjudication_id})
            return Decision.model_validate(stored["decision"])
        return decision
