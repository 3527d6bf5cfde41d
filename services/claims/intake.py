"""Claim intake: idempotent submission, every edit at once, a timestamped receipt."""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from infra.eventstore import ConcurrencyError
from infra.http.auth import Principal
from infra.http.problems import Problem
from services.claims.domain import Claim, ClaimSubmission, EditContext, claim_fingerprint, validate_claim
from services.claims.members import MemberCopy
from services.claims.repository import ClaimRepository, stream_of
from services.claims.status_projection import ClaimStatusProjection

_NAMESPACE = uuid.UUID("0b5a7a39-5d8f-4c55-9d1e-6c2f7f0e4a11")


@dataclass(frozen=True)
class Receipt:
    claim_id: str
    received_at: str
    total_charge: str
    replayed: bool = False

    def body(self) -> dict:
        return {"claim_id": self.claim_id, "status": "received", "received_at": self.received_at,
                "total_charge": self.total_charge}


def body_hash(raw: dict) -> str:
    return hashlib.sha256(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)).hexdigest()


def claim_id_for(organization_id: str, idempotency_key: str | None) -> str:
    # Same organisation + same key -> same claim id: the first write of the claim's
    # stream is then also the idempotency record, in one atomic insert.
    if idempotency_key:
        return str(uuid.uuid5(_NAMESPACE, f"{organization_id}:{idempotency_key}"))
    return str(uuid.uuid4())


class Intake:
    def __init__(
        self,
        repository: ClaimRepository,
        members: MemberCopy,
        status: ClaimStatusProjection,
        timely_filing_days: int,
    ) -> None:
        self.repository = repository
        self.members = members
        self.status = status
        self.timely_filing_days = timely_filing_days

    async def validate(self, submission: ClaimSubmission, principal: Principal) -> list[dict]:
        context = await self._context(submission, principal)
        problems = [p.as_dict() for p in validate_claim(submission, context)]
        problems.extend(await self._original_claim_problems(submission, principal))
        return problems

    async def submit(
        self, submission: ClaimSubmission, raw: dict, principal: Principal, idempotency_key: str | None
    ) -> Receipt:
        organization_id = principal.organization_id
        claim_id = claim_id_for(organization_id, idempotency_key)
        fingerprint = body_hash(raw)
        if idempotency_key:
            replay = await self._replay(claim_id, fingerprint)
            if replay is not None:
                return replay
        problems = await self.validate(submission, principal)
        if problems:
            raise Problem(422, f"The claim failed {len(problems)} edit(s).", code="claim_edits", errors=problems)
        events = Claim.receive(claim_id, submission, organization_id=organization_id, received_at=datetime.now(UTC))
        try:
            await self.repository.append(
                None, events, organization_id=organization_id, member_id=submission.member_id,
                meta={"idempotency_key": idempotency_key, "body_sha256": fingerprint},
            )
        except ConcurrencyError:
            # A concurrent retry with the same key won the insert.
            replay = await self._replay(claim_id, fingerprint)
            if replay is None:
                raise
            return replay
        await self._close_original(submission, claim_id)
        data = events[0].data
        return Receipt(claim_id, data["received_at"], data["total_charge"])

    async def _replay(self, claim_id: str, fingerprint: str) -> Receipt | None:
        first = await self.repository.store.first(stream_of(claim_id))
        if first is None:
            return None
        if (first.get("meta") or {}).get("body_sha256") != fingerprint:
            raise Problem(409, "This Idempotency-Key was used with a different claim.", code="idempotency_conflict")
        data = first["event"]["data"]
        return Receipt(claim_id, data["received_at"], data["total_charge"], True)

    async def _context(self, submission: ClaimSubmission, principal: Principal) -> EditContext:
        member = await self.members.facts(submission.member_id)
        duplicate = None
        if submission.frequency_code == "1":
            duplicate = await self.status.open_claim_with(principal.organization_id, claim_fingerprint(submission))
        return EditContext(
            today=datetime.now(UTC).date(),
            organization_npis=frozenset(principal.npis),
            organization_tin=principal.tin or "",
            timely_filing_days=self.timely_filing_days,
            member=member,
            duplicate_of_claim_id=duplicate,
        )

    async def _original_claim_problems(self, submission: ClaimSubmission, principal: Principal) -> list[dict]:
        if submission.frequency_code == "1" or not submission.original_claim_id:
            return []
        original = await self.repository.load(submission.original_claim_id)
        if original is None or original.received is None or original.received.organization_id != principal.organization_id:
            return [{"loc": "original_claim_id", "code": "unknown_original_claim",
                     "message": "no claim of your organisation has this id"}]
        if original.status is not None and original.status.value in ("voided", "replaced"):
            return [{"loc": "original_claim_id", "code": "original_claim_closed",
                     "message": f"the original claim is already {original.status.value}"}]
        if original.received.member_id != submission.member_id:
            return [{"loc": "original_claim_id", "code": "original_claim_other_member",
                     "message": "the original claim is for another member"}]
        return []

    async def _close_original(self, submission: ClaimSubmission, new_claim_id: str) -> None:
        if submission.frequency_code == "1" or not submission.original_claim_id:
            return
        for _ in range(5):
            original = await self.repository.load(submission.original_claim_id)
            now = datetime.now(UTC)
            if submission.frequency_code == "8":
                events = original.void(voided_by_claim_id=new_claim_id, voided_at=now)
            else:
                events = original.replace(replaced_by_claim_id=new_claim_id, replaced_at=now)
            try:
                await self.repository.append(original, events)
                return
            except ConcurrencyError:
                continue

