"""Identity HTTP routes: OAuth2 client credentials, JWKS, operator administration."""

from typing import Annotated

from fastapi import APIRouter, Form, Header, Request, Response, status

from infra.http.auth import Operator
from infra.http.problems import PROBLEM_JSON, Problem
from services.identity.application import Identity
from services.identity.models import ClientIn, ClientOut, ProviderOrganizationIn, ProviderOrganizationOut, TokenOut

router = APIRouter()


def _identity(request: Request) -> Identity:
    return request.app.state.identity


@router.post(
    "/oauth/token", response_model=TokenOut, tags=["identity"],
    responses={
        429: {"description": "Too many token requests for this client id or from this address; see Retry-After",
              "content": {PROBLEM_JSON: {}}},
        503: {"description": "Too busy verifying secrets; see Retry-After", "content": {PROBLEM_JSON: {}}},
    },
)
async def token(
    request: Request,
    grant_type: Annotated[str, Form()],
    client_id: Annotated[str, Form(min_length=1, max_length=200)],
    client_secret: Annotated[str, Form(min_length=1, max_length=500)],
) -> TokenOut:
    if grant_type != "client_credentials":
        raise Problem(400, "Only grant_type=client_credentials is supported.", code="unsupported_grant_type")
    # The caller's address as uvicorn resolved it: X-Forwarded-For is honoured only from
    # the proxies in FORWARDED_ALLOW_IPS (the local gateway; the ingress in deploy/k8s).
    address = request.client.host if request.client else "unknown"
    access_token, ttl = await _identity(request).issue_token(client_id, client_secret, address)
    return TokenOut(access_token=access_token, expires_in=ttl)


@router.get("/.well-known/jwks.json", tags=["identity"])
async def jwks(request: Request) -> dict:
    return {"keys": [_identity(request).key.public_jwk]}


@router.post(
    "/v1/admin/provider-organizations",
    status_code=status.HTTP_201_CREATED,
    response_model=ProviderOrganizationOut,
    tags=["admin"],
)
async def register_organization(
    body: ProviderOrganizationIn,
    request: Request,
    response: Response,
    operator: Operator,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> ProviderOrganizationOut:
    result = await _identity(request).register_organization(body, operator.client_id, idempotency_key)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    doc = result.document
    return ProviderOrganizationOut(
        organization_id=doc["_id"], client_id=doc["client_id"], client_secret=result.client_secret,
        name=doc["name"], tin=doc["tin"], npis=doc["npis"], contact_emails=doc["contact_emails"],
    )


@router.get("/v1/admin/provider-organizations/{organization_id}", tags=["admin"])
async def get_organization(organization_id: str, request: Request, operator: Operator) -> dict:
    doc = await _identity(request).get_organization(organization_id)
    if doc is None:
        raise Problem(404, "No such organisation.", code="not_found")
    return {"organization_id": doc["_id"], "name": doc["name"], "tin": doc["tin"], "npis": doc["npis"],
            "contact_emails": doc["contact_emails"], "client_id": doc["client_id"]}


@router.post("/v1/admin/clients", status_code=status.HTTP_201_CREATED, response_model=ClientOut, tags=["admin"])
async def register_client(
    body: ClientIn,
    request: Request,
    response: Response,
    operator: Operator,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> ClientOut:
    result = await _identity(request).register_client(body, operator.client_id, idempotency_key)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    doc = result.document
    return ClientOut(client_id=doc["_id"], client_secret=result.client_secret, role=doc["role"], name=doc["name"])
