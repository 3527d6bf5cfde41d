"""Eligibility acceptance: stored checks (isolation, expiry, sweeper), audit, bad input."""

import random
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pymongo import AsyncMongoClient

from services.eligibility.check_store import collection_for, created_at, new_check_id
from tests.support.eligibility import check, days, set_contract, today
from tests.support.kafka import events_about
from tests.support.waiting import eventually

CHECKS = "/v1/eligibility/checks"


def problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def without_instance(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "instance"}


async def new_check(platform, org, codes=("99213", "72148")) -> tuple[dict, dict]:
    member = await platform.new_member(plan_id="silver-hmo-2026", coverage_start=(today() - days(40)).isoformat())
    answer = await check(org.client, member["member_id"], today() - days(1), codes=list(codes),
                         provider_npi=org.npis[0])
    return member, answer


async def test_get_returns_the_same_answer_as_the_post(platform, operator, org):
    _, answer = await new_check(platform, org)
    assert answer["status"] == "active"
    expires = datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00"))
    checked = datetime.fromisoformat(answer["checked_at"].replace("Z", "+00:00"))
    assert checked < expires and expires > datetime.now(UTC)

    again = await org.client.get(f"{CHECKS}/{answer['check_id']}")
    assert again.status_code == 200, again.text
    assert again.json() == answer
    # Payer staff see every organisation's checks.
    assert (await operator.get(f"{CHECKS}/{answer['check_id']}")).json() == answer


async def test_another_organisations_check_is_a_404_like_a_random_id(platform, org):
    _, answer = await new_check(platform, org)
    stranger = await platform.new_organization()
    try:
        theirs = await stranger.client.get(f"{CHECKS}/{answer['check_id']}")
        random_id = await stranger.client.get(f"{CHECKS}/{uuid.uuid4()}")
    finally:
        await stranger.client.aclose()
    assert without_instance(problem(theirs, 404)) == without_instance(problem(random_id, 404))
    assert (await org.client.get(f"{CHECKS}/{answer['check_id']}")).status_code == 200


async def test_an_expired_check_is_404_and_swept_from_the_database(platform, running_stack, org):
    _, answer = await new_check(platform, org)
    check_id = answer["check_id"]
    mongo = AsyncMongoClient(running_stack.mongodb_uri, tz_aware=True)
    try:
        db = mongo["test_eligibility"]
        # Checks are kept per hour of creation (services/eligibility/check_store.py), the
        # hour read from the id itself (a UUIDv7).
        checks = db[collection_for(created_at(check_id))]
        assert await checks.find_one({"_id": check_id}) is not None
        result = await checks.update_one({"_id": check_id},
                                         {"$set": {"expires_at": datetime.now(UTC) - timedelta(minutes=5)}})
        assert result.matched_count == 1

        expired = await org.client.get(f"{CHECKS}/{check_id}")
        random_id = await org.client.get(f"{CHECKS}/{uuid.uuid4()}")
        assert without_instance(problem(expired, 404)) == without_instance(problem(random_id, 404))

        # An hour whose checks have all expired (made more than a day ago) is dropped whole.
        made = datetime.now(UTC) - timedelta(hours=26)
        old_id = new_check_id(made)
        old_hour = collection_for(made)
        await db[old_hour].insert_one({"_id": old_id, "expires_at": made + timedelta(hours=24), "answer": {}})
        problem(await org.client.get(f"{CHECKS}/{old_id}"), 404)

        async def swept():
            return old_hour not in await db.list_collection_names()

        await eventually(swept, timeout=15.0, interval=0.25, what=f"the sweeper to drop {old_hour}")
        assert await checks.find_one({"_id": check_id}) is not None  # this hour stays until it has expired
    finally:
        await mongo.close()
    problem(await org.client.get(f"{CHECKS}/{check_id}"), 404)


async def test_every_check_is_audited_with_who_asked_and_about_whom(platform, running_stack, org):
    member, answer = await new_check(platform, org)
    # A check about nobody is an access attempt too.
    unknown_id = "M" + str(random.randrange(10**10)).zfill(10)
    missing = await check(org.client, unknown_id, today() - days(1))
    assert missing["status"] == "not_found"
    read = await org.client.get(f"{CHECKS}/{answer['check_id']}")
    assert read.status_code == 200

    async def audited(check_id: str, count: int):
        async def probe():
            events = await events_about(running_stack.kafka_bootstrap, "audit.events", f"eligibility-checks/{check_id}")
            return events if len(events) >= count else None

        return await eventually(probe, timeout=30.0, interval=0.5, what=f"audit events about check {check_id}")

    events = await audited(answer["check_id"], 2)  # the POST and the GET
    for event in events:
        assert event["type"] == "patient_data.accessed"
        assert event["specversion"] == "1.0"
        assert event["organizationid"] == org.organization_id
        assert event["data"]["client_id"] == org.client_id
        assert event["data"]["organization_id"] == org.organization_id
        assert event["data"]["member_id"] == member["member_id"]
    assert {e["data"]["action"] for e in events} == {"eligibility.check", "eligibility.check.read"}

    [nobody] = await audited(missing["check_id"], 1)
    assert nobody["type"] == "patient_data.accessed"
    assert nobody["data"]["member_id"] == unknown_id
    assert (nobody["data"]["client_id"], nobody["data"]["organization_id"]) == (org.client_id, org.organization_id)


async def test_unknown_procedure_codes_are_answered_per_code(platform, operator, org):
    await set_contract(operator, org.organization_id, ["silver-hmo-2026"])
    _, answer = await new_check(platform, org, codes=("99213", "ZZZ99", "00000", "99284"))
    assert answer["status"] == "active"
    assert answer["benefits"] is not None
    by_code = {s["procedure_code"]: s for s in answer["services"]}
    assert list(by_code) == ["99213", "ZZZ99", "00000", "99284"]
    for code in ("ZZZ99", "00000"):
        assert by_code[code]["known"] is False
        assert by_code[code]["covered"] is False
        assert by_code[code]["reason"]["code"] == "unknown_procedure_code"
    for code in ("99213", "99284"):
        assert by_code[code]["known"] is True
        assert by_code[code]["covered"] is True


@pytest.mark.parametrize(
    "body, expected_locs",
    [
        ({"member_id": "M0000000001", "date_of_birth": "1980-02-03", "date_of_service": "2026-02-30"},
         {"date_of_service"}),
        ({"member_id": "M0000000001", "date_of_birth": "1980-02-30", "date_of_service": "2026-02-30"},
         {"date_of_birth", "date_of_service"}),
        ({"date_of_birth": "yesterday", "date_of_service": 20260101, "procedure_codes": "99213",
          "provider_npi": 1234567893, "surprise": True},
         {"member_id", "date_of_birth", "date_of_service", "procedure_codes", "provider_npi", "surprise"}),
        ({"member_id": "M0000000001", "date_of_birth": "1980-02-03", "date_of_service": "2026-01-05",
          "procedure_codes": ["99213", 99214, None]},
         {"procedure_codes[1]", "procedure_codes[2]"}),
        ({}, {"member_id", "date_of_birth", "date_of_service"}),
    ],
)
async def test_malformed_checks_are_422_naming_every_problem(org, body, expected_locs):
    found = problem(await org.client.post(CHECKS, json=body), 422)
    locs = {e["loc"] for e in found["errors"]}
    assert expected_locs <= locs, found["errors"]
    for error in found["errors"]:
        assert error["code"] and error["message"]


async def test_checks_that_parse_but_cannot_be_answered_name_every_problem(org):
    future_dob = (today() + days(400)).isoformat()
    body = {"member_id": "M0000000001", "date_of_birth": future_dob,
            "date_of_service": (today() - days(365 * 5)).isoformat(),
            "procedure_codes": ["99213", "  "], "provider_npi": "1234567890"}
    found = problem(await org.client.post(CHECKS, json=body), 422)
    codes = {(e["loc"], e["code"]) for e in found["errors"]}
    assert {("date_of_birth", "date_of_birth_in_future"), ("date_of_service", "date_of_service_before_birth"),
            ("date_of_service", "date_of_service_too_old"), ("procedure_codes[1]", "procedure_code_blank"),
            ("provider_npi", "invalid_npi")} <= codes, found["errors"]


async def test_non_json_and_non_object_bodies_are_problems(org):
    problem(await org.client.post(CHECKS, content=b'{"member_id": ', headers={"content-type": "application/json"}), 422)
    problem(await org.client.post(CHECKS, json=["M0000000001"]), 422)
    problem(await org.client.post(CHECKS, json=None), 422)
