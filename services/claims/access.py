"""A claim as a caller may see it: 404 for a missing claim and for another organisation's alike."""

from infra.http.auth import Principal
from infra.http.problems import Problem
from services.claims.domain import Claim
from services.claims.repository import ClaimRepository


def not_found() -> Problem:
    return Problem(404, "No such claim.", code="not_found")


async def visible_claim(repository: ClaimRepository, claim_id: str, principal: Principal) -> Claim:
    claim = await repository.load(claim_id) if 0 < len(claim_id) <= 64 else None
    if claim is None or claim.received is None or not principal.can_see(claim.received.organization_id):
        raise not_found()
    return claim
