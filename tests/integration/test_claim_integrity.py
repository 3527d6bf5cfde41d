"""Claims that must not be accepted, corrections that must not race, read copies that
must not freeze, input that must not crash, and reads that must be audited."""

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient, monitoring

from infra.eventstore import EventStore
from infra.http.auth import Principal
from services.adjudication.settings import AdjudicationSettings
from services.claims.domain import ClaimSubmission
from services.claims.intake import Intake, claim_id_for
from services.claims.members import MemberCopy
from services.claims.queries import ClaimQueries
from services.claims.repository import ClaimRepository
from services.claims.settings import ClaimsSettings
from services.claims.status_projection import ClaimStatusProjection
from tests.support.client import claim_body, wait_for_status
from tests.support.kafka import read_topic
from tests.support.stack import TEST_SERVICE_ENV
from tests.support.waiting import eventually


def _codes(response) -> list[str]:
    return [e["code"] for e in response.json().get("errors") or []]


# ------------------------------------------------------------ 1. unknown members


async def test_unknown_member_and_wrong_birth_date_get_one_answer_and_nothing_is_stored(platform, org):
    member = await platform.new_member()
    never_enrolled = dict(member, member_id="M" + str(uuid.uuid4().int)[:10])
    lower_wrong_dob = dict(member, member_id=member["member_id"].lower(), date_of_birth="1971-07-07")
    wrong_dob = dict(member, date_of_birth="1971-07-07")

    answers = []
    for who in (never_enrolled, lower_wrong_dob, wrong_dob):
        for path in ("/v1/claims", "/v1/claims/validate"):
            response = await org.client.post(path, json=claim_body(org, who), headers={"Idempotency-Key": str(uuid.uuid4())})
            assert response.status_code == 422, response.text
            body = response.json()
            answers.append((body["detail"], body["errors"]))
    # The same answer whether the id exists or not: intake is no oracle of member ids.
    assert all(answer == answers[0] for answer in answers), answers
    assert answers[0][1] == [{"loc": "member_id", "code": "member_not_found",
                              "message": "No member with this id and date of birth."}]

    # The lower-case form of the real id with the right birth date is that member.
    accepted = await org.client.post("/v1/claims", json=claim_body(org, dict(member, member_id=f" {member['member_id'].lower()} ")))
    assert accepted.status_code == 201, accepted.text
    claim = await wait_for_status(org.client, accepted.json()["claim_id"], "processed")
    assert claim["member_id"] == member["member_id"]


# ----------------------------------------------------- 2. replacement and void races


async def _processed_claim(platform, org, member=None, charge="150.00") -> tuple[dict, dict, str]:
    member = member or await platform.new_member()
    body = claim_body(org, member)
    body["lines"][0]["charge_amount"] = charge
    created = await org.client.post("/v1/claims", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    await wait_for_status(org.client, claim_id, "processed")
    return member, body, claim_id


def _correction(body: dict, original_claim_id: str, frequency_code: str, charge: str) -> dict:
    correction = json.loads(json.dumps(body))
    correction.update(frequency_code=frequency_code, original_claim_id=original_claim_id)
    correction["lines"][0]["charge_amount"] = charge
    return correction


@pytest.mark.parametrize("frequency_code, closed_status", [("7", "replaced"), ("8", "voided")])
async def test_concurrent_corrections_of_one_claim_leave_exactly_one_open_claim(platform, org, frequency_code, closed_status):
    member, body, original_id = await _processed_claim(platform, org)
    keys = [str(uuid.uuid4()) for _ in range(6)]
    responses = await asyncio.gather(*(
        org.client.post("/v1/claims", json=_correction(body, original_id, frequency_code, f"{160 + i}.00"),
                        headers={"Idempotency-Key": key})
        for i, key in enumerate(keys)
    ))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1, [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 201).json()["claim_id"]
    for key, response in zip(keys, responses):
        if response.status_code == 201:
            continue
        assert response.status_code in (409, 422), response.text
        assert "original_claim_closed" in _codes(response), response.text
        # The loser is not stored.
        assert (await org.client.get(f"/v1/claims/{claim_id_for(org.organization_id, key)}")).status_code == 404

    original = await wait_for_status(org.client, original_id, closed_status)
    assert original["timeline"][-1]["by_claim_id"] == winner
    # A replacement is priced; a void has nothing to price and stays received.
    await wait_for_status(org.client, winner, "processed" if frequency_code == "7" else "received")
    # A further correction of the closed original is refused.
    late = await org.client.post("/v1/claims", json=_correction(body, original_id, frequency_code, "199.00"))
    assert late.status_code == 422 and "original_claim_closed" in _codes(late)


class _Crash(Exception):
    pass


@pytest.mark.parametrize("crash_after", ["original_reserved", "claim_stored"])
async def test_a_crash_between_the_two_writes_is_finished_by_the_replay(platform, running_stack, org, crash_after):
    member, body, original_id = await _processed_claim(platform, org)
    replacement = _correction(body, original_id, "7", "170.00")
    key = str(uuid.uuid4())

    # Another claims process, on the same database, dies between two writes.
    settings = ClaimsSettings(mongodb_uri=running_stack.mongodb_uri,
                              mongodb_database_prefix=TEST_SERVICE_ENV["MONGODB_DATABASE_PREFIX"])
    client = AsyncMongoClient(running_stack.mongodb_uri, tz_aware=True)
    try:
        db = client[settings.database_name]

        async def crash(step: str) -> None:
            if step == crash_after:
                raise _Crash(step)

        intake = Intake(ClaimRepository(EventStore(db, "claims")), MemberCopy(db), ClaimStatusProjection(db),
                        settings.timely_filing_days, checkpoint=crash)
        principal = Principal(client_id=org.client_id, role="provider", organization_id=org.organization_id,
                              npis=tuple(org.npis), tin=org.tin)
        submission = ClaimSubmission.model_validate(replacement)
        with pytest.raises(_Crash):
            await intake.submit(submission, submission.model_dump(mode="json"), principal, key)
    finally:
        await client.close()

    # Half done: the original is still open (and payable) - never both closed and unreplaced.
    assert (await org.client.get(f"/v1/claims/{original_id}")).json()["status"] == "processed"

    replay = await org.client.post("/v1/claims", json=replacement, headers={"Idempotency-Key": key})
    assert replay.status_code == 201, replay.text
    new_id = replay.json()["claim_id"]
    assert new_id == claim_id_for(org.organization_id, key)
    if crash_after == "claim_stored":
        assert replay.headers.get("Idempotent-Replayed") == "true"

    original = await wait_for_status(org.client, original_id, "replaced")
    assert original["timeline"][-1]["by_claim_id"] == new_id
    await wait_for_status(org.client, new_id, "processed")
    # Exactly one payable claim for these services (the search reads the projection: poll).
    expected = sorted([(original_id, "replaced"), (new_id, "processed")])

    async def listed():
        items = (await org.client.get("/v1/claims", params={"member_id": member["member_id"]})).json()["items"]
        return sorted((c["claim_id"], c["status"]) for c in items)

    await eventually(lambda: _equal(listed(), expected), what="the search to list the two claims")


async def _equal(awaitable, expected):
    return (await awaitable) == expected


# ------------------------------------------------ 3. a parked event does not freeze


async def test_a_parked_membership_event_does_not_freeze_the_members_copy(platform, running_stack, org):
    member = await platform.new_member(coverage_start="2026-01-01")
    member_id = member["member_id"]
    coverage_end = (date.today() - timedelta(days=30)).isoformat()

    def envelope(version: int, data: dict) -> dict:
        return {
            "specversion": "1.0", "id": str(uuid.uuid4()), "source": "/services/eligibility",
            "type": "member.coverage_terminated", "subject": member_id,
            "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "datacontenttype": "application/json",
            "aggregateversion": version, "partitionkey": member_id, "data": data,
        }

    poison = envelope(2, {"member_id": member_id, "coverage_end": "not a date"})
    later = envelope(3, {"member_id": member_id, "plan_id": member["plan_id"], "coverage_start": "2026-01-01",
                         "coverage_end": coverage_end, "previous_coverage_end": None})
    producer = AIOKafkaProducer(bootstrap_servers=running_stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for event in (poison, later):
            await producer.send_and_wait("membership.events", json.dumps(event).encode(), key=member_id.encode())
    finally:
        await producer.stop()

    body = claim_body(org, member)  # a date of service after the new coverage end

    async def terminated():
        response = await org.client.post("/v1/claims/validate", json=body)
        return response.status_code == 422 and "member_not_covered" in _codes(response)

    await eventually(terminated, timeout=60, what="the later membership event to reach the claims copy")


def _membership_event(member_id: str, version: int, event_type: str, data: dict) -> dict:
    return {
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": "/services/eligibility", "type": event_type,
        "subject": member_id, "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json", "aggregateversion": version, "partitionkey": member_id,
        "data": {"member_id": member_id, **data},
    }


async def _produce(bootstrap: str, topic: str, key: str, *events: dict) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(topic, json.dumps(event).encode(), key=key.encode())
    finally:
        await producer.stop()


async def test_a_version_gap_is_resynchronised_by_both_member_copies_at_once(platform, running_stack):
    member = await platform.new_member(coverage_start="2026-01-01")
    member_id, plan_id = member["member_id"], member["plan_id"]
    client = AsyncMongoClient(running_stack.mongodb_uri, tz_aware=True)
    prefix = TEST_SERVICE_ENV["MONGODB_DATABASE_PREFIX"]
    claims_copy = client[ClaimsSettings(mongodb_database_prefix=prefix).database_name]["members"]
    adjudication_copy = client[AdjudicationSettings(mongodb_database_prefix=prefix).database_name]["member_coverage"]
    try:
        await eventually(lambda: adjudication_copy.find_one({"_id": member_id}), what="adjudication's copy")
        # Version 2 never reaches the topic: 3 skips it, and 4 follows 3.
        await _produce(
            running_stack.kafka_bootstrap, "membership.events", member_id,
            _membership_event(member_id, 3, "member.coverage_terminated", {
                "plan_id": plan_id, "coverage_start": "2026-01-01", "coverage_end": "2026-03-31",
                "previous_coverage_end": None}),
            _membership_event(member_id, 4, "member.reenrolled", {
                "plan_id": plan_id, "coverage_start": "2026-05-01", "coverage_end": None}),
        )

        async def at_version_4(copy):
            doc = await copy.find_one({"_id": member_id})
            return doc if doc and doc["version"] == 4 else None

        # Well inside the consumer's 30 s retry window: nobody waited for version 2.
        claims_doc = await eventually(lambda: at_version_4(claims_copy), timeout=10, what="the claims copy at 4")
        adjudication_doc = await eventually(lambda: at_version_4(adjudication_copy), timeout=10,
                                            what="adjudication's copy at 4")
    finally:
        await client.close()
    assert claims_doc["segments"] == [{"start": "2026-01-01", "end": "2026-03-31"},
                                      {"start": "2026-05-01", "end": None}]
    assert [(p["start"], p["end"]) for p in adjudication_doc["periods"]] == [
        ("2026-01-01", "2026-03-31"), ("2026-05-01", None)]


# ------------------------------------- a decision for a claim that is not here is poison


async def test_a_decision_for_an_unknown_claim_is_parked_at_once_and_the_member_goes_on(platform, running_stack, org):
    member = await platform.new_member()
    member_id = member["member_id"]
    unknown_claim = str(uuid.uuid4())
    decision = {
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": "/services/adjudication",
        "type": "claim.adjudicated", "subject": unknown_claim,
        "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "datacontenttype": "application/json",
        "partitionkey": member_id, "data": {
            "adjudication_id": str(uuid.uuid4()), "claim_id": unknown_claim, "claim_version": 1,
            "outcome": "denied", "adjudicated_at": datetime.now(UTC).isoformat(), "lines": [],
            "totals": {"charge": "0.00", "allowed": "0.00", "paid": "0.00", "patient_responsibility": "0.00"}},
    }
    # Keyed by the member: the same partition as the decision on their next claim.
    await _produce(running_stack.kafka_bootstrap, "adjudication.events", member_id, decision)

    created = await org.client.post("/v1/claims", json=claim_body(org, member))
    assert created.status_code == 201, created.text
    # Well inside the consumer's 30 s retry window: nothing holds up the partition.
    await wait_for_status(org.client, created.json()["claim_id"], "processed", timeout=15)

    async def parked():
        return [h for v, h in await read_topic(running_stack.kafka_bootstrap, "adjudication.events.dlq")
                if isinstance(v, dict) and v.get("id") == decision["id"]
                and h.get("dlq.consumer_group") == b"claims-decisions"]

    (headers,) = await eventually(parked, timeout=10, what="the decision on adjudication.events.dlq")
    assert headers["dlq.error_type"] == b"DecisionForUnknownClaim"
    assert headers["dlq.source_topic"] == b"adjudication.events"
    assert {"dlq.error", "dlq.source_partition", "dlq.source_offset"} <= set(headers)


# ------------------------------------------------------------- 4. bounded input


async def test_unbounded_numbers_and_non_ascii_digits_are_refused_as_422(platform, org):
    member = await platform.new_member()
    huge = claim_body(org, member)
    huge["lines"][0]["diagnosis_pointers"] = [10**22]
    response = await org.client.post("/v1/claims", json=huge, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 422, response.text
    assert "lines[0].diagnosis_pointers[0]" in {e["loc"] for e in response.json()["errors"]}

    arabic_indic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    foreign_digits = claim_body(org, member)
    foreign_digits["rendering_provider_npi"] = org.npis[-1].translate(arabic_indic)
    response = await org.client.post("/v1/claims", json=foreign_digits)
    assert response.status_code == 422, response.text
    assert {"loc": "rendering_provider_npi", "code": "invalid_npi"}.items() <= response.json()["errors"][0].items()

    long_text = claim_body(org, member)
    long_text["prior_authorization_id"] = "A" * 10_000
    long_text["lines"][0]["modifiers"] = ["25"] * 50
    response = await org.client.post("/v1/claims", json=long_text)
    assert response.status_code == 422, response.text
    assert {"prior_authorization_id", "lines[0].modifiers"} <= {e["loc"] for e in response.json()["errors"]}


# ------------------------------------------------------------------ 5. audit


async def test_search_results_and_validation_are_audited(platform, running_stack, org):
    member = await platform.new_member()
    created = await org.client.post("/v1/claims", json=claim_body(org, member))
    assert created.status_code == 201
    claim_id = created.json()["claim_id"]
    await wait_for_status(org.client, claim_id, "processed")

    listing = await org.client.get("/v1/claims", params={"status": "processed"})
    assert claim_id in [c["claim_id"] for c in listing.json()["items"]]
    validation = await org.client.post("/v1/claims/validate", json=claim_body(org, member))
    assert validation.status_code in (200, 422)

    async def audited():
        records = [v["data"] for v, _ in await read_topic(running_stack.kafka_bootstrap, "audit.events")
                   if isinstance(v, dict) and v.get("type") == "patient_data.accessed"
                   and v["data"].get("client_id") == org.client_id and v["data"].get("member_id") == member["member_id"]]
        actions = {r["action"] for r in records}
        return records if {"claim.search.result", "claim.validate"} <= actions else None

    records = await eventually(audited, timeout=30, what="audit records of the search and the validation")
    shown = [r for r in records if r["action"] == "claim.search.result"]
    assert any(claim_id in r["resource"] for r in shown)


# ------------------------------------------------------- round trips per request


class _Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event) -> None:
        if event.command_name in ("find", "insert", "update", "delete", "findAndModify"):
            self.names.append(event.command_name)

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


async def test_a_current_read_model_is_answered_without_replaying_the_stream(platform, running_stack, org):
    member, body, claim_id = await _processed_claim(platform, org)
    settings = ClaimsSettings(mongodb_uri=running_stack.mongodb_uri,
                              mongodb_database_prefix=TEST_SERVICE_ENV["MONGODB_DATABASE_PREFIX"])
    commands = _Commands()
    client = AsyncMongoClient(running_stack.mongodb_uri, tz_aware=True, event_listeners=[commands])
    try:
        db = client[settings.database_name]
        repository = ClaimRepository(EventStore(db, "claims"))
        status = ClaimStatusProjection(db)
        queries = ClaimQueries(repository, status)
        await eventually(lambda: status.get(claim_id), what="the read model to have the claim")
        commands.names.clear()
        view = await queries.get(claim_id)
        assert view["status"] == "processed"
        get_round_trips = len(commands.names)

        intake = Intake(repository, MemberCopy(db), status, settings.timely_filing_days)
        principal = Principal(client_id=org.client_id, role="provider", organization_id=org.organization_id,
                              npis=tuple(org.npis), tin=org.tin)
        fresh = claim_body(org, member)
        fresh["lines"][0]["charge_amount"] = "151.00"
        submission = ClaimSubmission.model_validate(fresh)
        commands.names.clear()
        await intake.submit(submission, submission.model_dump(mode="json"), principal, str(uuid.uuid4()))
        submit_round_trips = len(commands.names)
    finally:
        await client.close()
    print(f"round trips: GET {get_round_trips}, submission {submit_round_trips}")
    assert get_round_trips == 2  # the view, and the probe of the version after it
    assert submit_round_trips <= 5  # key replay probe, member, duplicate index, outbox intent, event
