"""POST /v1/webhooks/endpoints in process, private targets not allowed (production's setting):
loopback, private, metadata and a name resolving to loopback are refused with problem+json.

The directory is an in-memory stand-in; the routes, the validation and the resolver are real.
"""

import httpx
import pytest
from fastapi import FastAPI

from infra.http.auth import Principal, authenticated
from infra.http.problems import install_problem_handlers
from services.notifications import api
from services.notifications.directory import EndpointExists
from services.notifications.endpoints import Endpoints

PROVIDER = Principal(client_id="org-1-client", role="provider", organization_id="ORG-1")
STRANGER = Principal(client_id="org-2-client", role="provider", organization_id="ORG-2")


class FakeDirectory:
    def __init__(self) -> None:
        self.orgs: dict[str, dict] = {}

    async def endpoints(self, org):
        return dict(self.orgs.get(org, {}))

    async def endpoint(self, org, endpoint_id):
        return self.orgs.get(org, {}).get(endpoint_id)

    async def create_endpoint(self, org, endpoint):
        if endpoint["endpoint_id"] in self.orgs.setdefault(org, {}):
            raise EndpointExists(endpoint["endpoint_id"])
        self.orgs[org][endpoint["endpoint_id"]] = dict(endpoint)

    async def delete_endpoint(self, org, endpoint_id):
        return self.orgs.get(org, {}).pop(endpoint_id, None) is not None


def client_for(principal: Principal, *, allow_private: bool = False, require_https: bool = False):
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(api.router)
    app.state.endpoints = Endpoints(FakeDirectory(), allow_private=allow_private, require_https=require_https,
                                    max_per_organization=2)
    app.dependency_overrides[authenticated] = lambda: principal
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test"), app


@pytest.mark.parametrize(("url", "code"), [
    ("http://127.0.0.1/hook", "loopback_address"),
    ("http://10.0.0.1/hook", "private_address"),
    ("http://169.254.169.254/latest/meta-data", "metadata_address"),
    ("http://[::1]:8080/hook", "loopback_address"),
    ("http://localhost:8080/hook", "loopback_address"),
    ("http://100.64.1.1/hook", "carrier_grade_nat_address"),
    ("http://[fd00:ec2::254]/", "metadata_address"),
    ("http://[::ffff:10.0.0.1]/", "private_address"),
    ("http://no-such-host.invalid/hook", "unresolvable"),
])  # fmt: skip
async def test_private_targets_are_refused_when_not_allowed(url, code):
    client, _ = client_for(PROVIDER)
    async with client:
        response = await client.post("/v1/webhooks/endpoints", json={"url": url, "event_types": ["claim.denied"]})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0] == {"loc": "url", "code": code, "message": response.json()["errors"][0]["message"]}


async def test_allowed_locally_and_a_public_address_is_fine_anywhere():
    local, _ = client_for(PROVIDER, allow_private=True)
    async with local:
        assert (await local.post("/v1/webhooks/endpoints", json={
            "url": "http://127.0.0.1:9/h", "event_types": ["claim.paid"]})).status_code == 201
        metadata = await local.post("/v1/webhooks/endpoints", json={
            "url": "http://169.254.169.254/", "event_types": ["claim.paid"]})
        assert metadata.status_code == 422  # never, even locally
    production, _ = client_for(PROVIDER, require_https=True)
    async with production:
        plain = await production.post("/v1/webhooks/endpoints", json={"url": "http://93.184.216.34/h",
                                                                       "event_types": ["claim.paid"]})
        assert plain.status_code == 422 and plain.json()["errors"][0]["code"] == "https_required"
        ok = await production.post("/v1/webhooks/endpoints", json={"url": "https://93.184.216.34/h",
                                                                    "event_types": ["claim.paid"]})
        assert ok.status_code == 201, ok.text


async def test_every_problem_is_listed_and_limits_hold():
    client, app = client_for(PROVIDER)
    async with client:
        bad = await client.post("/v1/webhooks/endpoints", json={
            "url": "gopher://x", "event_types": ["claim.denied", "claim.nope", "everything"]})
        assert bad.status_code == 422
        assert [(e["loc"], e["code"]) for e in bad.json()["errors"]] == [
            ("url", "unsupported_scheme"), ("event_types[1]", "unknown_event_type"), ("event_types[2]", "unknown_event_type")]
        empty = await client.post("/v1/webhooks/endpoints", json={"url": "https://93.184.216.34/", "event_types": []})
        assert empty.status_code == 422
        for _ in range(2):
            assert (await client.post("/v1/webhooks/endpoints", json={
                "url": "https://93.184.216.34/", "event_types": ["claim.paid"]})).status_code == 201
        third = await client.post("/v1/webhooks/endpoints", json={"url": "https://93.184.216.34/", "event_types": ["claim.paid"]})
        assert third.status_code == 409 and third.json()["code"] == "too_many_endpoints"
        listed = (await client.get("/v1/webhooks/endpoints")).json()
        assert len(listed) == 2 and all("secret" not in e for e in listed)
        app.dependency_overrides[authenticated] = lambda: STRANGER
        assert (await client.get(f"/v1/webhooks/endpoints/{listed[0]['endpoint_id']}")).status_code == 404
        assert (await client.delete(f"/v1/webhooks/endpoints/{listed[0]['endpoint_id']}")).status_code == 404
