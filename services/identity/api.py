"""Identity HTTP routes: OAuth2 client credentials, JWKS, operator administration.

Dependencies are typed aliases (IdentityDep, TokenForm, CallerAddress) resolved by the
get_* functions, so tests can swap them with app.dependency_overrides[get_identity] = ...
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from infra.http.auth import Operator
from infra.http.problems import Problem, problem_responses
from infra.idempotency import IdempotencyKey, mark_replayed
from services.identity.application import Identity, Registered
from services.identity.models import (
    ClientIn,
    ClientOut,
    Jwks,
    OAuthProblemDetails,
    OrganizationOut,
    ProviderOrganizationIn,
    ProviderOrganizationOut,
    TokenOut,
    TokenRequest,
)
from services.identity.oauth import FORM, GRANT_TYPE, NO_STORE, token_request, unsupported_grant_type

router = APIRouter()


# Dependencies are coroutines: FastAPI runs a plain def in its thread pool (a thread
# hop per request; tests/unit/test_async_dependencies.py).
async def get_identity(request: Request) -> Identity:
    return request.app.state.identity


async def caller_address(request: Request) -> str:
    # The address as uvicorn resolved it: X-Forwarded-For is honoured only from the
    # proxies in FORWARDED_ALLOW_IPS (the local gateway; the ingress in deploy/k8s).
    return request.client.host if request.client else "unknown"


IdentityDep = Annotated[Identity, Depends(get_identity)]
TokenForm = Annotated[TokenRequest, Depends(token_request)]
CallerAddress = Annotated[str, Depends(caller_address)]

_AUTH = {401: "No valid bearer token.", 403: "Only an operator may use this endpoint."}
_BUSY = {503: "Too busy hashing secrets (busy); see Retry-After."}
_CREATE = {
    **_AUTH,
    409: "The Idempotency-Key was used with another body (idempotency_conflict).",
    422: "The body is malformed; `errors` lists every problem (e.g. invalid_npi, invalid_tin, invalid_email).",
    **_BUSY,
}


@router.post(
    "/oauth/token", response_model=TokenOut, tags=["identity"],
    summary="Issue an access token (OAuth2 client credentials)",
    responses=problem_responses({
        400: "A parameter is missing, repeated or too long (invalid_request; `errors` lists each), or "
        f"grant_type is not {GRANT_TYPE} (unsupported_grant_type).",
        401: "Unknown client id or wrong secret (invalid_client).",
        429: "Too many token requests for this client id or from this address (rate_limited); see Retry-After.",
        **_BUSY,
    }, model=OAuthProblemDetails),
    # The form is read by the token_request dependency (its errors are OAuth2's 400), so
    # FastAPI does not see it: described here.
    openapi_extra={"requestBody": {"required": True, "content": {FORM: {"schema": TokenRequest.model_json_schema()}}}},
)
async def token(form: TokenForm, identity: IdentityDep, address: CallerAddress, response: Response) -> TokenOut:
    if form.grant_type != GRANT_TYPE:
        raise unsupported_grant_type()
    access_token, ttl = await identity.issue_token(form.client_id, form.client_secret, address)
    response.headers.update(NO_STORE)
    return TokenOut(access_token=access_token, expires_in=ttl)


@router.get("/.well-known/jwks.json", response_model=Jwks, tags=["identity"], summary="The token signing keys")
async def jwks(identity: IdentityDep) -> Jwks:
    return Jwks(keys=[identity.key.public_jwk])


@router.post(
    "/v1/admin/provider-organizations", status_code=status.HTTP_201_CREATED,
    response_model=ProviderOrganizationOut, tags=["admin"], responses=problem_responses(_CREATE),
)
async def register_organization(
    body: ProviderOrganizationIn, response: Response, operator: Operator, identity: IdentityDep,
    idempotency_key: IdempotencyKey = None,
) -> ProviderOrganizationOut:
    result = await identity.register_organization(body, operator.client_id, idempotency_key)
    _created(response, result)
    doc = result.document
    response.headers["Location"] = f"/v1/admin/provider-organizations/{doc['_id']}"
    return ProviderOrganizationOut(
        organization_id=doc["_id"], client_id=doc["client_id"], client_secret=result.client_secret,
        name=doc["name"], tin=doc["tin"], npis=doc["npis"], contact_emails=doc["contact_emails"],
    )


@router.get(
    "/v1/admin/provider-organizations/{organization_id}", response_model=OrganizationOut, tags=["admin"],
    responses=problem_responses({**_AUTH, 404: "No such organisation."}),
)
async def get_organization(organization_id: str, operator: Operator, identity: IdentityDep) -> OrganizationOut:
    doc = await identity.get_organization(organization_id) if len(organization_id) <= 64 else None
    if doc is None:
        raise Problem(404, "No such organisation.", code="not_found")
    return OrganizationOut(
        organization_id=doc["_id"], name=doc["name"], tin=doc["tin"], npis=doc["npis"],
        contact_emails=doc["contact_emails"], client_id=doc["client_id"],
    )


@router.post(
    "/v1/admin/clients", status_code=status.HTTP_201_CREATED, response_model=ClientOut, tags=["admin"],
    responses=problem_responses(_CREATE),
)
async def register_client(
    body: ClientIn, response: Response, operator: Operator, identity: IdentityDep,
    idempotency_key: IdempotencyKey = None,
) -> ClientOut:
    result = await identity.register_client(body, operator.client_id, idempotency_key)
    _created(response, result)
    doc = result.document
    return ClientOut(client_id=doc["_id"], client_secret=result.client_secret, role=doc["role"], name=doc["name"])


def _created(response: Response, result: Registered) -> None:
    response.headers.update(NO_STORE)  # the first answer carries a client secret
    if result.replayed:
        mark_replayed(response)
