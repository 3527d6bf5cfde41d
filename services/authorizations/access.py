"""An authorization as a caller may see it: 404 for a missing one and another organisation's alike,
the refused read audited like any other."""

from infra.audit import record_access
from infra.eventstore import EventStore
from infra.http.auth import Principal
from infra.http.problems import Problem
from services.authorizations.domain import Authorization
from services.authorizations.repository import AuthorizationRepository

SOURCE = "/services/authorizations"


def not_found() -> Problem:
    return Problem(404, "No such authorization.", code="not_found")


async def visible(repository: AuthorizationRepository, audit: EventStore, authorization_id: str,
                  principal: Principal, action: str) -> Authorization:
    authorization = await repository.load(authorization_id)
    if authorization is None or authorization.submitted is None:
        raise not_found()
    if not principal.can_see(authorization.organization_id):
        await record_access(audit, principal, source=SOURCE, action=action,
                            resource=f"authorizations/{authorization_id}", member_id=authorization.member_id,
                            outcome="denied", organization_id=authorization.organization_id)
        raise not_found()
    return authorization
