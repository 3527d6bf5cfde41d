"""Identity through the gateway: idempotent registrations and OAuth2-shaped token errors."""

import uuid

from tests.support.client import fresh_tin, luhn_npi


def _org() -> dict:
    return {"name": f"Clinic {uuid.uuid4().hex[:6]}", "tin": fresh_tin(), "npis": [luhn_npi()],
            "contact_emails": ["billing@clinic.example"]}


async def test_a_registration_retried_with_its_key_is_replayed_and_another_body_is_a_conflict(platform, operator):
    key = {"Idempotency-Key": f"org-{uuid.uuid4()}"}
    body = _org()
    first = await operator.post("/v1/admin/provider-organizations", json=body, headers=key)
    again = await operator.post("/v1/admin/provider-organizations", json=body, headers=key)
    other = await operator.post("/v1/admin/provider-organizations", json=_org(), headers=key)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert "idempotent-replayed" not in first.headers and again.headers["idempotent-replayed"] == "true"
    assert {k: again.json()[k] for k in ("organization_id", "client_id")} == \
        {k: first.json()[k] for k in ("organization_id", "client_id")}
    assert other.status_code == 409 and other.json()["type"].endswith("/idempotency_conflict"), other.text
    # The first answer's secret works; the replay did not make another client.
    assert await platform.token(first.json()["client_id"], first.json()["client_secret"])


async def test_a_client_retried_with_its_key_is_replayed(platform, operator):
    key = {"Idempotency-Key": f"client-{uuid.uuid4()}"}
    first = await operator.post("/v1/admin/clients", json={"role": "reviewer", "name": "Desk"}, headers=key)
    again = await operator.post("/v1/admin/clients", json={"role": "reviewer", "name": "Desk"}, headers=key)
    other = await operator.post("/v1/admin/clients", json={"role": "operator", "name": "Desk"}, headers=key)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.headers["idempotent-replayed"] == "true" and again.json()["client_id"] == first.json()["client_id"]
    assert other.status_code == 409, other.text
    assert await platform.token(first.json()["client_id"], first.json()["client_secret"])


async def test_token_errors_are_oauth2_errors_in_problem_json(platform):
    http = platform.http
    wrong = await http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "nobody",
                                                  "client_secret": "nope"})
    missing = await http.post("/oauth/token", data={"grant_type": "client_credentials"})
    grant = await http.post("/oauth/token", data={"grant_type": "password", "client_id": "a", "client_secret": "b"})
    for response, status, error in ((wrong, 401, "invalid_client"), (missing, 400, "invalid_request"),
                                    (grant, 400, "unsupported_grant_type")):
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["error"] == error and response.json()["type"].endswith(f"/{error}")
    assert {e["loc"] for e in missing.json()["errors"]} == {"client_id", "client_secret"}
