"""Claim intake: idempotent submission, every edit at once, a timestamped receipt.

A replacement (frequency 7) or void (8) changes two claims without a transaction, so
it is a process of three writes, each one atomic and each one idempotent:

1. reserve the original (claim.closure_reserved naming the new claim, appended at the
   original's expected version: of concurrent corrections exactly one wins; the
   others are refused as `original_claim_closed` and store nothing);
2. store the new claim (its stream's first event, which is also the idempotency record);
3. close the original (claim.replaced / claim.voided).

A crash between any two leaves a state the replay of the same Idempotency-Key
finishes: a reservation by this claim lets step 1 pass again, a stored claim makes
the replay go straight to step 3. Until step 3 the original stays payable and the new
claim does not exist or is not yet adjudicated against a closed original, so at no
point are both payable for the same services.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from infra.aggregates import Loaded
from infra.eventstore import ConcurrencyError
from infra.http.auth import Principal
from infra.http.problems import Problem
from infra.idempotency import IdempotentRequest, stored_fingerprint
from services.claims.domain import (
    Claim,
    ClaimEvent,
    ClaimSubmission,
    EditContext,
    InvalidTransition,
    claim_fingerprint,
    validate_claim,
)
from services.claims.members import MemberCopy
from services.claims.repository import ClaimRepository
from services.claims.status_projection import ClaimStatusProjection

_NAMESPACE = uuid.UUID("0b5a7a39-5d8f-4c55-9d1e-6c2f7f0e4a11")

Checkpoint = Callable[[str], Awaitable[None]]
"""Called after each write of a correction ("original_reserved", "claim_stored"):
a seam for tests that crash the process between two writes."""


async def _no_checkpoint(step: str) -> None:
    return None


@dataclass(frozen=True)
class Receipt:
    claim_id: str
    received_at: str
    total_charge: str
    replayed: bool = False

    def body(self) -> dict:
        return {"claim_id": self.claim_id, "status": "received", "received_at": self.received_at,
                "total_charge": self.total_charge}


def claim_id_for(organization_id: str, idempotency_key: str | None) -> str:
    # Same organisation + same key -> same claim id: the first write of the claim's
    # stream is then also the idempotency record, in one atomic insert.
    return IdempotentRequest.of(_NAMESPACE, organization_id, idempotency_key, {}).resource_id


def edits_failed(problems: list[dict]) -> Problem:
    return Problem(422, f"The claim failed {len(problems)} edit(s).", code="claim_edits", errors=problems)


def _original_closed(detail: str = "the original claim is already replaced, voided or being corrected") -> Problem:
    return edits_failed([{"loc": "original_claim_id", "code": "original_claim_closed", "message": detail}])


class Intake:
    def __init__(
        self,
        repository: ClaimRepository,
        members: MemberCopy,
        status: ClaimStatusProjection,
        timely_filing_days: int,
        checkpoint: Checkpoint = _no_checkpoint,
    ) -> None:
        self.repository = repository
        self.members = members
        self.status = status
        self.timely_filing_days = timely_filing_days
        self.checkpoint = checkpoint

    def with_members(self, members) -> "Intake":
        """The same intake reading members through `members` (a batch's memory of its look-ups)."""
        return Intake(self.repository, members, self.status, self.timely_filing_days, self.checkpoint)

    async def validate(
        self, submission: ClaimSubmission, principal: Principal, claim_id: str | None = None
    ) -> list[dict]:
        """Every edit; `claim_id` is the claim being submitted (its own reservation of
        the original is not a conflict)."""
        problems, _ = await self._validate(submission, principal, claim_id)
        return problems

    async def _validate(
        self, submission: ClaimSubmission, principal: Principal, claim_id: str | None
    ) -> tuple[list[dict], Loaded[Claim] | None]:
        context = await self._context(submission, principal)
        problems = [p.as_dict() for p in validate_claim(submission, context)]
        original_problems, original = await self._original_claim_problems(submission, principal, claim_id)
        return problems + original_problems, original

    async def submit(
        self, submission: ClaimSubmission, raw: dict, principal: Principal, idempotency_key: str | None
    ) -> Receipt:
        organization_id = principal.organization_id
        request = IdempotentRequest.of(_NAMESPACE, organization_id, idempotency_key, raw)
        claim_id = request.resource_id
        # A replay is recognised where it costs nothing extra on a first submission: a
        # correction looks first (its replay finishes the process), an original only when
        # its edits fail (a replayed claim now fails at least the duplicate edit) or when
        # its first event is already stored (the append below loses on the key).
        if idempotency_key and _is_correction(submission):
            replay = await self._replay(claim_id, request)
            if replay is not None:
                return replay
        problems, original = await self._validate(submission, principal, claim_id)
        if problems:
            replay = await self._replay(claim_id, request) if idempotency_key else None
            if replay is not None:
                return replay
            raise edits_failed(problems)
        events = Claim.receive(claim_id, submission, organization_id=organization_id, received_at=datetime.now(UTC))
        if _is_correction(submission):
            await self._reserve_original(submission, claim_id, original)
            await self.checkpoint("original_reserved")
        try:
            await self.repository.create(events, meta=request.meta)
        except ConcurrencyError:
            # A concurrent retry with the same key won the insert.
            replay = await self._replay(claim_id, request)
            if replay is None:
                raise
            return replay
        if _is_correction(submission):
            await self.checkpoint("claim_stored")
            await self._close_original(submission.original_claim_id, submission.frequency_code, claim_id)
        data = events[0].data
        return Receipt(claim_id, data["received_at"], data["total_charge"])

    async def _replay(self, claim_id: str, request: IdempotentRequest) -> Receipt | None:
        first = await self.repository.first(claim_id)
        if first is None:
            return None
        request.check(stored_fingerprint(first.get("meta")))
        data = first["event"]["data"]
        if data.get("frequency_code") in ("7", "8") and data.get("original_claim_id"):
            # The first attempt may have stopped before closing the original: finish it.
            await self._close_original(data["original_claim_id"], data["frequency_code"], claim_id)
        return Receipt(claim_id, data["received_at"], data["total_charge"], True)

    async def _reserve_original(
        self, submission: ClaimSubmission, claim_id: str, original: Loaded[Claim] | None
    ) -> None:
        def decide(original: Claim | None) -> list[ClaimEvent]:
            if original is None:
                raise _original_closed("no claim of your organisation has this id")
            return original.reserve_closure(
                by_claim_id=claim_id, frequency_code=submission.frequency_code, at=datetime.now(UTC)
            )

        try:
            await self.repository.execute(
                submission.original_claim_id, decide, correlation_id=claim_id, current=original
            )
        except InvalidTransition:
            raise _original_closed() from None

    async def _close_original(self, original_claim_id: str, frequency_code: str, claim_id: str) -> None:
        def decide(original: Claim | None) -> list[ClaimEvent]:
            assert original is not None  # reserved before the new claim was stored
            now = datetime.now(UTC)
            if frequency_code == "8":
                return original.void(voided_by_claim_id=claim_id, voided_at=now)
            return original.replace(replaced_by_claim_id=claim_id, replaced_at=now)

        await self.repository.execute(original_claim_id, decide, correlation_id=claim_id)

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

    async def _original_claim_problems(
        self, submission: ClaimSubmission, principal: Principal, claim_id: str | None
    ) -> tuple[list[dict], Loaded[Claim] | None]:
        """The original's problems, and the original as loaded (the reservation decides on it)."""
        if not _is_correction(submission):
            return [], None
        loaded = await self.repository.load_with_version(submission.original_claim_id)
        original = loaded.state if loaded else None
        if original is None or original.received is None or original.received.organization_id != principal.organization_id:
            return [{"loc": "original_claim_id", "code": "unknown_original_claim",
                     "message": "no claim of your organisation has this id"}], None
        if not original.is_closable_by(claim_id):
            state = original.status.value if original.status and original.status.value in ("voided", "replaced") \
                else "being replaced or voided"
            return [{"loc": "original_claim_id", "code": "original_claim_closed",
                     "message": f"the original claim is already {state}"}], loaded
        if original.received.member_id != submission.member_id:
            return [{"loc": "original_claim_id", "code": "original_claim_other_member",
                     "message": "the original claim is for another member"}], loaded
        return [], loaded


def _is_correction(submission: ClaimSubmission) -> bool:
    return submission.frequency_code in ("7", "8") and submission.original_claim_id is not None
