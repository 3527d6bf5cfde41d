"""Identity's routes over HTTP (in process), with their dependencies swapped through dependency_overrides."""

import httpx
import pytest
from fastapi import FastAPI

from infra.http.auth import Principal, authenticated
from infra.http.problems import install_problem_handlers
from services.identity import api
from services.identity.application import Registered
from services.identity.oauth import invalid_client

ORG = {"name": "Clinic", "tin": "12-3456789", "npis": ["1234567893"], "contact_emails": ["billing@clinic.example"]}
PUBLIC_JWK = {"kty": "RSA", "kid": "kid-1", "use": "sig", "alg": "RS256", "n": "sXch", "e": "AQAB"}


class FakeIdentity:
    """Answers as Identity does; records what the routes handed it."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.key = type("Key", (), {"public_jwk": PUBLIC_JWK})()

    async def issue_token(self, client_id: str, client_secret: str, address: str) -> tuple[str, int]:
        self.calls.append(("token", client_id, address))
        if client_secret != "right":
            raise invalid_client()
        return "signed.jwt.token", 3600

    async def register_organization(self, body, caller: str, key: str | None) -> Registered:
        self.calls.append(("organization", body, caller, key))
        doc = {"_id": "org-1", "client_id": "org-org-1-abc", **body.model_dump()}
        return Registered(doc, None if key == "seen" else "s3cret", key == "seen")

    async def register_client(self, body, caller: str, key: str | None) -> Registered:
        self.calls.append(("client", body, caller, key))
        return Registered({"_id": f"{body.role}-1", "role": body.role, "name": body.name}, "s3cret", False)

    async def get_organization(self, org_id: str) -> dict | None:
        return None


@pytest.fixture
def identity() -> FakeIdentity:
    return FakeIdentity()


@pytest.fixture
def principal() -> dict:
    return {"value": Principal(client_id="ops-1", role="operator")}


@pytest.fixture
async def http(identity, principal):
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(api.router)
    app.dependency_overrides[api.get_identity] = lambda: identity
    app.dependency_overrides[api.caller_address] = lambda: "203.0.113.9"
    app.dependency_overrides[authenticated] = lambda: principal["value"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity") as client:
        yield client


def _problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


async def test_a_token_is_issued_for_the_form_and_the_callers_address(http, identity):
    response = await http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "c1",
                                                     "client_secret": "right", "scope": "ignored"})
    assert response.status_code == 200, response.text
    assert response.json() == {"access_token": "signed.jwt.token", "token_type": "Bearer", "expires_in": 3600}
    assert response.headers["cache-control"] == "no-store"
    assert identity.calls == [("token", "c1", "203.0.113.9")]


async def test_a_bad_client_is_oauth2_invalid_client_as_problem_json(http):
    body = _problem(await http.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": "c1", "client_secret": "wrong"}), 401)
    assert body["error"] == "invalid_client" and body["type"].endswith("/invalid_client")


async def test_malformed_token_requests_are_oauth2_invalid_request_listing_every_problem(http, identity):
    missing = _problem(await http.post("/oauth/token", data={"grant_type": "client_credentials",
                                                             "client_secret": "x" * 501}), 400)
    assert missing["error"] == "invalid_request"
    assert {(e["loc"], e["code"]) for e in missing["errors"]} == {("client_id", "missing"),
                                                                   ("client_secret", "string_too_long")}
    assert "x" * 50 not in str(missing)  # never echoed
    repeated = _problem(await http.post("/oauth/token", content=b"grant_type=client_credentials&client_id=a"
                                        b"&client_id=b&client_secret=right",
                                        headers={"content-type": "application/x-www-form-urlencoded"}), 400)
    assert repeated["errors"] == [{"loc": "client_id", "code": "repeated", "message": "given more than once"}]
    as_json = _problem(await http.post("/oauth/token", json={"grant_type": "client_credentials"}), 400)
    assert as_json["error"] == "invalid_request"
    grant = _problem(await http.post("/oauth/token", data={"grant_type": "password", "client_id": "c1",
                                                           "client_secret": "right"}), 400)
    assert grant["error"] == "unsupported_grant_type"
    assert identity.calls == []  # nothing malformed reaches the secret check


async def test_jwks_lists_the_signing_key(http):
    response = await http.get("/.well-known/jwks.json")
    assert response.status_code == 200 and response.json() == {"keys": [PUBLIC_JWK]}


async def test_registration_hands_the_validated_body_caller_and_key_to_identity(http, identity):
    response = await http.post("/v1/admin/provider-organizations", json=ORG, headers={"Idempotency-Key": "k-1"})
    assert response.status_code == 201, response.text
    assert {"organization_id", "client_id", "client_secret"} <= response.json().keys()
    assert response.json()["tin"] == "123456789"
    assert "idempotent-replayed" not in response.headers
    (_, body, caller, key), = identity.calls
    assert (body.tin, caller, key) == ("123456789", "ops-1", "k-1")


async def test_a_replay_says_so_in_its_header(http):
    response = await http.post("/v1/admin/provider-organizations", json=ORG, headers={"Idempotency-Key": "seen"})
    assert response.status_code == 201
    assert response.headers["idempotent-replayed"] == "true" and response.json()["client_secret"] is None


async def test_clients_are_registered_by_role(http, identity):
    response = await http.post("/v1/admin/clients", json={"role": "reviewer", "name": "Desk"})
    assert response.status_code == 201, response.text
    assert response.json() == {"client_id": "reviewer-1", "client_secret": "s3cret", "role": "reviewer", "name": "Desk"}
    assert identity.calls[0][3] is None  # no key: a new client each time


@pytest.mark.parametrize("key", ["", "x" * 201, "naïve", "two words"])
async def test_a_malformed_idempotency_key_is_a_422(http, identity, key):
    body = _problem(await http.post("/v1/admin/clients", json={"role": "reviewer", "name": "Desk"},
                                    headers={"Idempotency-Key": key.encode()}), 422)
    assert [e["loc"] for e in body["errors"]] == ["header.Idempotency-Key"]
    assert identity.calls == []


async def test_a_bad_body_is_a_422_listing_every_problem(http, identity):
    body = _problem(await http.post("/v1/admin/provider-organizations", json={
        "name": "", "tin": "١٢٣٤٥٦٧٨٩", "npis": ["123"], "contact_emails": ["nope"]}), 422)
    assert {e["loc"] for e in body["errors"]} == {"name", "tin", "npis[0]", "contact_emails[0]"}
    body = _problem(await http.post("/v1/admin/clients", json={"role": "provider"}), 422)
    assert {e["loc"] for e in body["errors"]} == {"role", "name"}
    assert identity.calls == []


@pytest.mark.parametrize("role", ["provider", "reviewer"])
async def test_only_operators_administer(http, principal, identity, role):
    principal["value"] = Principal(client_id="c", role=role, organization_id="org-9" if role == "provider" else None)
    _problem(await http.post("/v1/admin/provider-organizations", json=ORG), 403)
    _problem(await http.post("/v1/admin/clients", json={"role": "operator", "name": "x"}), 403)
    _problem(await http.get("/v1/admin/provider-organizations/org-1"), 403)
    assert identity.calls == []


async def test_an_unknown_or_absurd_organisation_id_is_404(http):
    _problem(await http.get("/v1/admin/provider-organizations/nope"), 404)
    _problem(await http.get("/v1/admin/provider-organizations/" + "x" * 5000), 404)


def test_every_error_is_documented_as_problem_json():
    from services.identity.main import build_app

    app, _runtime = build_app()  # the service's own document: infra/http/app.py documents the problems
    paths = app.openapi()["paths"]
    documented = {(path, method): {s for s, r in op["responses"].items() if "application/problem+json" in r.get("content", {})}
                  for path, ops in paths.items() for method, op in ops.items()}
    assert {"400", "401", "429", "503"} <= documented[("/oauth/token", "post")]
    assert "422" not in paths["/oauth/token"]["post"]["responses"]  # OAuth2 says 400 invalid_request
    for path in ("/v1/admin/provider-organizations", "/v1/admin/clients"):
        assert {"401", "403", "409", "422", "503"} <= documented[(path, "post")]
    token_errors = paths["/oauth/token"]["post"]["responses"]["401"]["content"]["application/problem+json"]
    assert token_errors["schema"]["$ref"].endswith("/OAuthProblemDetails")
