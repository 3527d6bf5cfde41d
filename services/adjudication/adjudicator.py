"""Deciding a claim exactly once: the decision and its ledger change as one atomic write.

For a claim version (claim.received, or claim.info_request_answered after a pend):

1. load the policy's ledger (family or member; services/adjudication/ledgers.py);
   if it has applied this adjudication id already (a redelivery, a replay from
   offset zero, a restart after a crash), the stored decision is the answer;
2. otherwise decide (pure: domain/engine.py) from adjudication's own copies of
   coverage, network contracts and authorizations, and the ledger;
3. store the decision under "<adjudication id>:<next ledger revision>" (insert only:
   a decision document is never overwritten, so one that was published is never
   replaced; a leftover of a lost race or a crash is simply never referenced);
4. move the ledger to the next revision by compare-and-set, recording which
   revision applied the decision. That single write is the moment the decision
   and its accumulator change happen; a crash before it leaves no trace that
   counts, a crash after it is found in step 1.

A lost compare-and-set (another member of the family, another replica) reloads
the ledger and decides again from step 1.

The result names what to publish: the decision, the accumulator changes per
member-year and the authorization units used; the worker publishes them before
the claim's offset is committed, and a replay republishes the same events (same ids).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.events.adjudication import AccumulatorUpdate, AdjudicationDecision, AuthorizationUnitsUsed
from contracts.identifiers import normalize_member_id
from infra.batching import BatchedInserts
from infra.consumer import TransientError
from services.adjudication.authorizations import AuthorizationCopy
from services.adjudication.domain.coverage import MemberCoverage
from services.adjudication.domain.engine import (
    DecisionInputs,
    Reference,
    adjudication_id_for,
    apply_decision,
    apply_expiry,
    apply_void,
    decide,
)
from services.adjudication.domain.ledger import Ledger, authorization_changes, changes_between
from services.adjudication.ledgers import LedgerStore, StoredLedger
from services.adjudication.members import MemberCoverageCopy
from services.adjudication.network import NetworkCopy

MAX_ATTEMPTS = 10
_EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:provider-platform:adjudication-effects")


class ClaimNotDecidedHere(ValueError):
    """An info-request answer for a claim adjudication never decided: poison (parked, not retried)."""


@dataclass(frozen=True)
class Result:
    decision: AdjudicationDecision | None
    """None for a void or an expired info request: nothing to decide, only an effect to give back."""
    accumulators: list[AccumulatorUpdate] = field(default_factory=list)
    authorization_units: list[AuthorizationUnitsUsed] = field(default_factory=list)
    replayed: bool = False
    """Decided before: the stored decision, republished unchanged."""

    def effect_event_id(self, kind: str, *parts: object) -> str:
        return str(uuid.uuid5(_EVENT_NAMESPACE, ":".join(map(str, (kind, *parts)))))


class Adjudicator:
    def __init__(
        self, db: AsyncDatabase, reference: Reference, members: MemberCoverageCopy, network: NetworkCopy,
        authorizations: AuthorizationCopy,
    ) -> None:
        self.decisions = db["decisions"]
        self._inserts = BatchedInserts(self.decisions)
        self.ledgers = LedgerStore(db)
        self.reference = reference
        self.members = members
        self.network = network
        self.authorizations = authorizations

    async def on_received(self, claim: dict[str, Any], claim_version: int) -> Result:
        if claim["frequency_code"] == "8":
            return await self._settle(claim, claim_version, documentation_received=False, void=True)
        return await self._settle(claim, claim_version, documentation_received=False)

    async def on_answered(self, claim_id: str, member_id: str, claim_version: int) -> Result:
        """Decide the claim again on the version that answered its info request."""
        claim = await self._received(claim_id, member_id)
        if claim is None:
            raise ClaimNotDecidedHere("an info request answered for a claim adjudication has not decided")
        return await self._settle(claim, claim_version, documentation_received=True)

    async def on_expired(self, claim_id: str, member_id: str, claim_version: int) -> Result | None:
        """An info request expired: the claims service denies the claim, and the decision in
        effect gives its accumulators and units back. None for a claim never decided here."""
        claim = await self._received(claim_id, member_id)
        if claim is None:
            return None
        return await self._settle(claim, claim_version, documentation_received=False, expiry=True)

    async def _received(self, claim_id: str, member_id: str) -> dict[str, Any] | None:
        """The claim as received, from its first decision (adjudication keeps no other copy)."""
        member = await self.members.find(member_id)
        stored = await self.ledgers.load(_policy(member, member_id))
        first = adjudication_id_for(claim_id, 1)
        position = stored.positions.get(first)
        doc = None if position is None else await self.decisions.find_one({"_id": f"{first}:{position}"})
        return None if doc is None else doc["claim"]

    async def _settle(self, claim: dict[str, Any], claim_version: int, *, documentation_received: bool,
                      void: bool = False, expiry: bool = False) -> Result:
        adjudication_id = adjudication_id_for(claim["claim_id"], claim_version)
        member = await self.members.find_allowing_for_lag(claim["member_id"])
        policy_id = _policy(member, claim["member_id"])
        for attempt in range(MAX_ATTEMPTS):
            stored = await self.ledgers.load(policy_id, fresh=attempt > 0)
            position = stored.positions.get(adjudication_id)
            if position is not None:
                return await self._replayed(adjudication_id, position)
            if void or expiry:
                decision = None
                after = (apply_void if void else apply_expiry)(stored.ledger, claim, adjudication_id)
            else:
                decision = decide(claim, await self._inputs(claim, member, stored.ledger, documentation_received),
                                  self.reference, claim_version=claim_version, adjudicated_at=datetime.now(UTC))
                after = apply_decision(stored.ledger, decision, claim)
            result = self._result(decision, claim, member, adjudication_id, stored.ledger, after)
            revision = stored.revision + 1
            try:
                await self._inserts.insert(_decision_doc(adjudication_id, revision, claim, result))
            except DuplicateKeyError:
                # Written at this very revision before (a crash before the ledger moved):
                # decided on the same ledger, so it stands.
                doc = await self.decisions.find_one({"_id": f"{adjudication_id}:{revision}"})
                result = _result_from_doc(doc)
                if result.decision is not None:
                    after = apply_decision(stored.ledger, result.decision, claim)
                else:
                    after = (apply_void if void else apply_expiry)(stored.ledger, claim, adjudication_id)
            positions = {**stored.positions, adjudication_id: revision}
            if await self.ledgers.save(stored, after, positions) is not None:
                return result
        raise TransientError("the policy's ledger kept changing")

    async def _inputs(self, claim: dict[str, Any], member: MemberCoverage | None, ledger: Ledger,
                      documentation_received: bool) -> DecisionInputs:
        contracted = await self.network.contracted_plans(claim["organization_id"])
        authorizations = ()
        if member is not None and self._needs_authorization(claim, member):
            authorizations = await self.authorizations.usable_for(member.member_id)
        return DecisionInputs(member=member, contracted_plan_ids=contracted, authorizations=authorizations,
                              ledger=ledger, documentation_received=documentation_received)

    def _needs_authorization(self, claim: dict[str, Any], member: MemberCoverage) -> bool:
        catalogue = self.reference.catalogue
        for line in claim["lines"]:
            plan_id = member.plan_on(_day(line["date_of_service"]))
            if plan_id in catalogue.plans and catalogue.plans[plan_id].requires_prior_authorization(line["procedure_code"]):
                return True
        return False

    def _result(self, decision: AdjudicationDecision | None, claim: dict[str, Any], member: MemberCoverage | None,
                adjudication_id: str, before: Ledger, after: Ledger) -> Result:
        family_id = member.family_id if member else None
        accumulators = [
            AccumulatorUpdate(
                member_id=change.member_id, plan_id=_plan_in_year(member, claim, change.year), plan_year=change.year,
                deductible_applied=change.balance.deductible, out_of_pocket_applied=change.balance.out_of_pocket,
                claim_id=claim["claim_id"], adjudication_id=adjudication_id, family_id=family_id,
            )
            for change in changes_between(before, after)
        ]
        units = [
            AuthorizationUnitsUsed(authorization_id=authorization_id, member_id=claim["member_id"],
                                   claim_id=claim["claim_id"], adjudication_id=adjudication_id, units=delta)
            for authorization_id, delta in authorization_changes(before, after).items()
        ]
        return Result(decision, accumulators, units)

    async def _replayed(self, adjudication_id: str, position: int) -> Result:
        doc = await self.decisions.find_one({"_id": f"{adjudication_id}:{position}"})
        if doc is None:
            raise TransientError("an applied decision's document is not readable yet")
        result = _result_from_doc(doc)
        return Result(result.decision, result.accumulators, result.authorization_units, replayed=True)


def _policy(member: MemberCoverage | None, member_id: str) -> str:
    return member.policy_id if member else normalize_member_id(member_id)


def _plan_in_year(member: MemberCoverage | None, claim: dict[str, Any], year: int) -> str:
    if member is not None:
        for line in claim["lines"]:
            day = _day(line["date_of_service"])
            if day.year == year and member.plan_on(day):
                return member.plan_on(day)
        for period in reversed(member.periods):
            return period.plan_id
    return "unknown"


def _decision_doc(adjudication_id: str, revision: int, claim: dict[str, Any], result: Result) -> dict[str, Any]:
    return {
        "_id": f"{adjudication_id}:{revision}",
        "adjudication_id": adjudication_id,
        "claim_id": claim["claim_id"],
        "claim": claim,
        "decision": result.decision.to_data() if result.decision else None,
        "accumulators": [update.model_dump(mode="json") for update in result.accumulators],
        "authorization_units": [units.model_dump(mode="json") for units in result.authorization_units],
    }


def _result_from_doc(doc: dict[str, Any]) -> Result:
    return Result(
        decision=AdjudicationDecision.model_validate(doc["decision"]) if doc.get("decision") else None,
        accumulators=[AccumulatorUpdate.model_validate(raw) for raw in doc.get("accumulators", [])],
        authorization_units=[AuthorizationUnitsUsed.model_validate(raw) for raw in doc.get("authorization_units", [])],
    )


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)



