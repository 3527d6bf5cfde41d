"""Eligibility: hostile input never ends in a 500, ids are normalised, member reads are
audited, and the in-memory copies follow a write made by another replica."""

import random
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from contracts import topics
from contracts.envelope import new_event
from infra.eventstore import EventStore
from tests.support.client import luhn_npi
from tests.support.eligibility import DOB, check, days, today
from tests.support.kafka import events_about
from tests.support.waiting import eventually

CHECKS = "/v1/eligibility/checks"
HUGE_INT = 10**22  # 23 digits
BIG_TEXT = "9" * 600_000  # under the 1 MiB body limit, so it reaches the models
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def valid_check_body(member_id: str = "M0000000001") -> dict:
    return {"member_id": member_id, "date_of_birth": DOB, "date_of_service": (today() - days(1)).isoformat(),
            "procedure_codes": ["99213"]}


@pytest.mark.parametrize("field", ["member_id", "date_of_birth", "date_of_service", "procedure_codes", "provider_npi"])
@pytest.mark.parametrize("value", [HUGE_INT, -HUGE_INT, BIG_TEXT, [BIG_TEXT], [HUGE_INT] * 5000, 1e308])
async def test_a_check_with_an_absurd_field_is_422(org, field, value):
    body = {**valid_check_body(), field: value}
    found = problem(await org.client.post(CHECKS, json=body), 422)
    assert field in {e["loc"].split("[")[0] for e in found["errors"]}, found["errors"]


@pytest.mark.parametrize("body", [
    {"first_name": BIG_TEXT}, {"last_name": "A\x00B"}, {"date_of_birth": HUGE_INT}, {"plan_id": BIG_TEXT},
    {"coverage_start": "0001-01-01", "date_of_birth": "0001-01-01"}, {"coverage_end": "9999-12-31"},
    {"gender": HUGE_INT},
])
async def test_an_enrollment_with_an_absurd_field_is_422(operator, body):
    enrollment = {"first_name": "Test", "last_name": "Patient", "date_of_birth": DOB, "gender": "female",
                  "plan_id": "silver-hmo-2026", "coverage_start": "2026-01-01", **body}
    problem(await operator.post("/v1/admin/members", json=enrollment), 422)


async def test_commands_on_a_member_with_absurd_dates_or_ids_are_4xx(platform, operator):
    member = await platform.new_member()
    base = f"/v1/admin/members/{member['member_id']}"
    # Before the bounds, an end of 9999-12-31 was stored and the next plan change added a day to it (500).
    problem(await operator.post(f"{base}/termination", json={"coverage_end": "9999-12-31"}), 422)
    problem(await operator.post(f"{base}/plan-changes", json={"plan_id": "gold-hmo-2026", "effective_date": "9999-12-31"}), 422)
    problem(await operator.post(f"{base}/plan-changes", json={"plan_id": "gold-hmo-2026", "effective_date": HUGE_INT}), 422)
    problem(await operator.get(f"/v1/admin/members/{'M' * 5000}"), 422)
    problem(await operator.post(f"/v1/admin/members/{'M' * 5000}/termination", json={"coverage_end": "2026-06-30"}), 422)
    problem(await operator.get(f"{CHECKS}/{'c' * 5000}"), 422)
    problem(await operator.get(f"/v1/admin/network-contracts/{'o' * 5000}"), 422)
    problem(await operator.post("/v1/admin/network-contracts",
                                json={"organization_id": "org", "plan_ids": [BIG_TEXT]}), 422)
    problem(await operator.post("/v1/admin/network-contracts",
                                json={"organization_id": BIG_TEXT, "plan_ids": []}), 422)
    problem(await operator.post("/v1/admin/network-contracts",
                                json={"organization_id": "a\x00b", "plan_ids": []}), 422)
    # A UUIDv7 whose time is past year 9999 names no hour of checks: a 404 like any unknown id.
    problem(await operator.get(f"{CHECKS}/ffffffff-ffff-7fff-bfff-ffffffffffff"), 404)


async def test_an_npi_written_in_other_digits_is_not_a_valid_npi(operator):
    # \d matches Arabic-Indic digits and int() reads them, so this NPI used to pass the Luhn check.
    foreign = luhn_npi().translate(ARABIC_INDIC)
    found = problem(await operator.post(CHECKS, json={**valid_check_body(), "provider_npi": foreign}), 422)
    assert ("provider_npi", "invalid_npi") in {(e["loc"], e["code"]) for e in found["errors"]}


async def test_a_tin_written_in_other_digits_is_not_a_valid_tin(operator):
    response = await operator.post("/v1/admin/provider-organizations", json={
        "name": f"Clinic {uuid.uuid4().hex[:6]}", "tin": "123456789".translate(ARABIC_INDIC),
        "npis": [luhn_npi()], "contact_emails": ["billing@clinic.example"]})
    found = problem(response, 422)
    assert "tin" in {e["loc"] for e in found["errors"]}, found["errors"]


async def test_member_ids_are_normalised_in_bodies_and_paths(platform, operator, org):
    member = await platform.new_member(coverage_start=(today() - days(30)).isoformat())
    typed = f"  {member['member_id'].lower()} "
    answer = await check(org.client, typed, today() - days(1))
    assert answer["status"] == "active"
    read = await operator.get(f"/v1/admin/members/{member['member_id'].lower()}")
    assert read.status_code == 200, read.text
    assert read.json()["member_id"] == member["member_id"]
    ended = await operator.post(f"/v1/admin/members/{member['member_id'].lower()}/termination",
                                json={"coverage_end": (today() - days(2)).isoformat()})
    assert ended.status_code == 200, ended.text
    assert (await check(org.client, typed, today() - days(1)))["status"] == "inactive"


async def audit_events(bootstrap: str, resource: str, count: int) -> list[dict]:
    async def probe():
        events = await events_about(bootstrap, topics.AUDIT, resource)
        return events if len(events) >= count else None

    return await eventually(probe, timeout=30.0, interval=0.5, what=f"{count} audit events about {resource}")


async def test_reading_a_member_is_audited_found_missing_or_refused(platform, running_stack, operator, org):
    member = await platform.new_member()
    resource = f"members/{member['member_id']}"
    assert (await operator.get(f"/v1/admin/members/{member['member_id']}")).status_code == 200
    refused = await org.client.get(f"/v1/admin/members/{member['member_id']}")
    problem(refused, 403)
    unknown = "M" + str(random.randrange(10**10)).zfill(10)
    problem(await operator.get(f"/v1/admin/members/{unknown}"), 404)

    events = await audit_events(running_stack.kafka_bootstrap, resource, 3)  # enrollment, read, refusal
    reads = {e["data"]["outcome"]: e["data"] for e in events if e["data"]["action"] == "member.read"}
    assert set(reads) == {"found", "denied"}
    assert reads["found"]["role"] == "operator" and reads["found"]["member_id"] == member["member_id"]
    assert reads["denied"]["client_id"] == org.client_id
    assert reads["denied"]["organization_id"] == org.organization_id
    [missing] = await audit_events(running_stack.kafka_bootstrap, f"members/{unknown}", 1)
    assert missing["data"]["outcome"] == "not_found" and missing["data"]["action"] == "member.read"


async def test_a_write_by_another_replica_reaches_the_checks_of_this_one(platform, running_stack, org):
    """The service answers checks from an in-memory copy fed by membership.events; a
    termination appended by another replica (here: the test, through the same event
    store) must show in this replica's answers once its relay has published it."""
    start = today() - days(30)
    member = await platform.new_member(coverage_start=start.isoformat())
    member_id = member["member_id"]
    dos = today() - days(1)
    metrics_url = f"{running_stack.service_url('eligibility')}/metrics"

    async def answered_from_memory():
        before = await member_copy_hits(metrics_url)
        assert (await check(org.client, member_id, dos))["status"] == "active"
        return await member_copy_hits(metrics_url) > before

    # The first check loads the member; once the feed is live the copy answers.
    await eventually(answered_from_memory, timeout=30.0, interval=0.2, what="a check answered from the copy")

    mongo = AsyncMongoClient(running_stack.mongodb_uri, tz_aware=True)
    try:
        other_replica = EventStore(mongo["test_eligibility"], "eligibility")
        ended = today() - days(3)
        await other_replica.append(f"member-{member_id}", topics.MEMBERSHIP, new_event(
            source="/services/eligibility", type="member.coverage_terminated", subject=member_id,
            aggregateversion=2, partitionkey=member_id,
            data={"member_id": member_id, "plan_id": member["plan_id"], "coverage_start": start.isoformat(),
                  "coverage_end": ended.isoformat(), "previous_coverage_end": None},
        ))
    finally:
        await mongo.close()

    async def inactive():
        answer = await check(org.client, member_id, dos)
        return answer if answer["status"] == "inactive" else None

    hits = await member_copy_hits(metrics_url)
    answer = await eventually(inactive, timeout=15.0, interval=0.1, what="the other replica's termination")
    assert answer["coverage"]["end"] == ended.isoformat()
    # ... and it came through the feed into the copy, not from a reload.
    assert await member_copy_hits(metrics_url) > hits


async def member_copy_hits(metrics_url: str) -> float:
    async with httpx.AsyncClient(timeout=5.0) as client:
        text = (await client.get(metrics_url)).text
    for family in text_string_to_metric_families(text):
        if family.name == "eligibility_read_copy_lookups":
            return sum(s.value for s in family.samples
                       if s.name.endswith("_total") and s.labels == {"copy": "members", "outcome": "hit"})
    return 0.0

