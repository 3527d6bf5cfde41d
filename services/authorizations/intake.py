"""Submission: idempotent, every check at once, the decision clock, and the auto-approval rules.

The authorization id is derived from (organisation, Idempotency-Key), so the stream's
first event is also the idempotency record (infra/idempotency.py). Rules are decided
before the write and stored with the request in one append: an auto-approved request
is approved in the same write that accepts it (milliseconds, not a round trip through Kafka).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from contracts.events.authorizations import AuthorizationSubmitted
from infra.eventstore import ConcurrencyError
from infra.http.auth import Principal
from infra.http.problems import Problem
from infra.idempotency import IdempotentRequest, stored_fingerprint
from refdata.plans import load_catalogue
from services.authorizations.domain import Authorization, DecisionClocks, Rule, RuleInput, first_approving
from services.authorizations.domain.request import AuthorizationRequest, RequestContext, check_request
from services.authorizations.gold_card import DecisionCounts
from services.authorizations.members import MemberCopy
from services.authorizations.repository import AuthorizationRepository
from services.authorizations.view import _instant

_NAMESPACE = uuid.UUID("3f4a2b7c-9d1e-4a6f-8c2b-5e7d9a1b3c40")


@dataclass(frozen=True)
class Receipt:
    state: Authorization
    replayed: bool = False

    def body(self) -> dict:
        request = self.state.submitted
        assert request is not None
        required = set(request.codes_requiring_authorization)
        return {
            "authorization_id": self.state.authorization_id,
            "status": self.state.status,
            "submitted_at": _instant(request.submitted_at),
            "decision_due_at": _instant(request.decision_due_at),
            "requirements": [{"procedure_code": code, "authorization_required": code in required}
                             for code in request.procedure_codes],
            "decision": None if self.state.decision is None else {
                "decision": self.state.decision.decision, "decided_by_role": self.state.decision.decided_by_role,
                "rule": self.state.decision.rule, "note": self.state.decision.system_note,
            },
        }


def request_failed(problems: list[dict]) -> Problem:
    return Problem(422, f"The request failed {len(problems)} check(s).", code="validation", errors=problems)


class Intake:
    def __init__(self, repository: AuthorizationRepository, members: MemberCopy, counts: DecisionCounts,
                 clocks: DecisionClocks, rules: tuple[Rule, ...]) -> None:
        self.repository = repository
        self.members = members
        self.counts = counts
        self.clocks = clocks
        self.rules = rules

    async def submit(self, request: AuthorizationRequest, principal: Principal, idempotency_key: str | None) -> Receipt:
        assert principal.organization_id is not None
        idempotent = IdempotentRequest.of(_NAMESPACE, principal.organization_id, idempotency_key,
                                          request.model_dump(mode="json"))
        authorization_id = idempotent.resource_id
        if idempotency_key:
            replay = await self._replay(authorization_id, idempotent)
            if replay is not None:
                return replay
        member = await self.members.facts(request.member_id)
        now = datetime.now(UTC)
        problems = check_request(request, RequestContext(now.date(), frozenset(principal.npis), member))
        if problems:
            raise request_failed(problems)
        assert member is not None
        plan_id = member.plan_on(request.start_date)
        plan = load_catalogue().plans.get(plan_id or "")
        needed = [code for code in request.procedure_codes if plan is None or plan.requires_prior_authorization(code)]
        rule = None
        if needed:
            stats = await self.counts.stats(principal.organization_id, needed) \
                if any(r.kind == "gold_card" for r in self.rules) else {}
            approving = first_approving(self.rules, RuleInput(tuple(needed), tuple(request.diagnosis_codes),
                                                              request.units, stats))
            rule = approving.id if approving else None
        line_of_business = plan.line_of_business if plan else None
        payload = AuthorizationSubmitted(
            authorization_id=authorization_id, member_id=member.member_id, organization_id=principal.organization_id,
            requesting_provider_npi=request.requesting_provider_npi, urgency=request.urgency,
            procedure_codes=list(request.procedure_codes), diagnosis_codes=list(request.diagnosis_codes),
            requested_units=request.units, start_date=request.start_date, end_date=request.end_date,
            submitted_at=now, decision_due_at=self.clocks.due(request.urgency, now, line_of_business),
            plan_id=plan_id, line_of_business=line_of_business, codes_requiring_authorization=needed,
        )
        meta = {**idempotent.meta, "clinical_notes": request.clinical_notes}
        try:
            state = await self.repository.create(authorization_id, Authorization.submit(payload, rule), meta=meta)
        except ConcurrencyError:
            replay = await self._replay(authorization_id, idempotent)  # a concurrent retry won
            if replay is None:
                raise
            return replay
        return Receipt(state)

    async def _replay(self, authorization_id: str, idempotent: IdempotentRequest) -> Receipt | None:
        first = await self.repository.first(authorization_id)
        if first is None:
            return None
        idempotent.check(stored_fingerprint(first.get("meta")))
        state = await self.repository.load(authorization_id)
        assert state is not None
        return Receipt(state, replayed=True)
