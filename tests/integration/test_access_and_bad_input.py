"""Isolation between organisations, authentication, and bad input answered as problem+json."""

import uuid

import httpx
import pytest

from tests.support.client import claim_body


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


async def test_another_organisations_claim_is_not_found(platform, org):
    member = await platform.new_member()
    created = await org.client.post("/v1/claims", json=claim_body(org, member))
    assert created.status_code == 201
    claim_id = created.json()["claim_id"]

    stranger = await platform.new_organization()
    try:
        theirs = await stranger.client.get(f"/v1/claims/{claim_id}")
        missing = await stranger.client.get(f"/v1/claims/{uuid.uuid4()}")
        assert_problem(theirs, 404)
        assert_problem(missing, 404)
        assert theirs.json()["detail"] == missing.json()["detail"]  # indistinguishable
        listing = await stranger.client.get("/v1/claims")
        assert claim_id not in [c["claim_id"] for c in listing.json()["items"]]
    finally:
        await stranger.client.aclose()
    assert (await org.client.get(f"/v1/claims/{claim_id}")).status_code == 200


async def test_no_token_is_401_and_bad_token_is_401(platform):
    assert_problem(await platform.http.get(f"/v1/claims/{uuid.uuid4()}"), 401)
    assert_problem(await platform.http.post("/v1/claims", json={}), 401)
    forged = await platform.http.get("/v1/claims", headers={"Authorization": "Bearer not.a.jwt"})
    assert_problem(forged, 401)
    wrong_secret = await platform.http.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_id": "platform-admin", "client_secret": "nope"}
    )
    assert_problem(wrong_secret, 401)


async def test_provider_token_on_operator_endpoints_is_403(org):
    assert_problem(await org.client.post("/v1/admin/provider-organizations", json={
        "name": "x", "tin": "123456789", "npis": ["1234567893"], "contact_emails": []}), 403)
    assert_problem(await org.client.post("/v1/admin/clients", json={"role": "operator", "name": "x"}), 403)
    assert_problem(await org.client.post("/v1/admin/members", json={}), 403)


@pytest.mark.parametrize(
    "mutate, expected_locs",
    [
        (lambda b: b.update(lines="not a list"), {"lines"}),
        (lambda b: b.pop("member_id"), {"member_id"}),
        (lambda b: (b.pop("member_id"), b["lines"][0].update(units="one"), b.update(frequency_code="9")),
         {"member_id", "lines[0].units", "frequency_code"}),
        (lambda b: b["lines"][0].update(charge_amount=12.5), {"lines[0].charge_amount"}),
        (lambda b: b.update(patient_date_of_birth="1980-02-30"), {"patient_date_of_birth"}),
    ],
)
async def test_malformed_claims_list_every_problem(platform, org, mutate, expected_locs):
    member = await platform.new_member()
    body = claim_body(org, member)
    mutate(body)
    problem = assert_problem(await org.client.post("/v1/claims", json=body), 422)
    locs = {e["loc"] for e in problem["errors"]}
    assert expected_locs <= locs, problem["errors"]
    for error in problem["errors"]:
        assert error["code"] and error["message"]


async def test_business_edits_are_all_reported(platform, org):
    member = await platform.new_member()
    body = claim_body(org, member)
    body["diagnosis_codes"] = ["E11", "ZZZ.99"]
    body["lines"][0].update(procedure_code="00000", place_of_service="77", diagnosis_pointers=[5])
    body["rendering_provider_npi"] = "1234567890"
    problem = assert_problem(await org.client.post("/v1/claims", json=body), 422)
    codes = {e["code"] for e in problem["errors"]}
    assert {"non_billable_diagnosis_code", "invalid_diagnosis_code", "unknown_procedure_code",
            "unknown_place_of_service", "diagnosis_pointer_out_of_range", "invalid_npi"} <= codes


async def test_bad_json_huge_body_and_wrong_media_type(org):
    assert_problem(
        await org.client.post("/v1/claims", content=b'{"member_id": ', headers={"content-type": "application/json"}), 422
    )
    huge = b'{"member_id": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert_problem(await org.client.post("/v1/claims", content=huge, headers={"content-type": "application/json"}), 413)
    assert (await org.client.post("/v1/claims", content=b"member_id=1",
                                  headers={"content-type": "application/x-www-form-urlencoded"})).status_code in (415, 422)
    assert_problem(await org.client.post("/v1/claims", json=[1, 2, 3]), 422)
    assert_problem(await org.client.post("/v1/claims", json=None), 422)


async def test_malformed_admin_and_eligibility_bodies(operator, org):
    problem = assert_problem(await operator.post("/v1/admin/members", json={"first_name": 5, "plan_id": "nope"}), 422)
    assert {"first_name", "last_name", "date_of_birth", "gender", "coverage_start"} <= {e["loc"] for e in problem["errors"]}
    problem = assert_problem(await org.client.post("/v1/eligibility/checks", json={"member_id": "M1", "date_of_birth": "1990-13-01"}), 422)
    assert {"date_of_birth", "date_of_service"} <= {e["loc"] for e in problem["errors"]}


@pytest.mark.parametrize("query", ["to=9999-12-31", "from=0001-01-01&to=9999-12-31", "from=9999-12-31"])
async def test_claim_search_at_the_edges_of_the_calendar_is_not_a_server_error(org, query):
    response = await org.client.get(f"/v1/claims?{query}")
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


async def test_a_cursor_cannot_carry_query_operators(org):
    import base64

    import orjson

    forged = base64.urlsafe_b64encode(orjson.dumps(["a", {"$gt": ""}])).decode()
    response = await org.client.get(f"/v1/claims?cursor={forged}")
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "invalid_cursor"
