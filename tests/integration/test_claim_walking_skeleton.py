"""The spine end to end: enrollment -> claim -> adjudication -> status, through real Kafka and MongoDB."""

import json
import uuid
from decimal import Decimal
from pathlib import Path

import jsonschema

import contracts

from tests.support.client import claim_body, wait_for_status
from tests.support.kafka import events_about, read_topic
from tests.support.waiting import eventually


async def test_submitted_claim_is_processed_with_amounts_per_line(platform, running_stack, org):
    member = await platform.new_member()
    response = await org.client.post("/v1/claims", json=claim_body(org, member), headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["status"] == "received" and receipt["total_charge"] == "195.00"
    assert receipt["received_at"].endswith("Z")

    claim = await wait_for_status(org.client, receipt["claim_id"], "processed")

    assert [line["line_number"] for line in claim["lines"]] == [1, 2]
    for line in claim["lines"]:
        assert Decimal(line["allowed_amount"]) > 0
        share = Decimal(line["deductible"]) + Decimal(line["copay"]) + Decimal(line["coinsurance"])
        assert Decimal(line["patient_responsibility"]) == share
        assert Decimal(line["paid_amount"]) == Decimal(line["allowed_amount"]) - share
        adjustments = sum(Decimal(a["amount"]) for a in line["adjustments"])
        assert Decimal(line["charge_amount"]) == Decimal(line["paid_amount"]) + adjustments
        assert line["explanation"], "every adjudicated line says how it was priced"
    assert claim["totals"]["charge"] == "195.00"
    assert [entry["status"] for entry in claim["timeline"]] == ["received", "processed"]

    # An independent consumer sees the claim's story on the topics.
    claim_events = await eventually(
        lambda: _types(running_stack.kafka_bootstrap, "claims.events", receipt["claim_id"], {"claim.received", "claim.processed"}),
        what="claim events on claims.events",
    )
    assert claim_events.count("claim.received") == 1
    decisions = await eventually(
        lambda: _types(running_stack.kafka_bootstrap, "adjudication.events", receipt["claim_id"], {"claim.adjudicated"}),
        what="decision on adjudication.events",
    )
    assert decisions == ["claim.adjudicated"]

    # What travels on the topics matches the checked-in contracts.
    published = await events_about(running_stack.kafka_bootstrap, "claims.events", receipt["claim_id"])
    published += await events_about(running_stack.kafka_bootstrap, "adjudication.events", receipt["claim_id"])
    for event in published:
        jsonschema.validate(event, _schema("cloudevent"))
        jsonschema.validate(event["data"], _schema(event["type"]))


def _schema(name):
    return json.loads((Path(contracts.__file__).parent / "schemas" / f"{name}.json").read_text())


async def _types(bootstrap, topic, subject, wanted):
    types = [e["type"] for e in await events_about(bootstrap, topic, subject)]
    return types if wanted <= set(types) else None


async def test_trace_context_travels_from_http_through_kafka(platform, running_stack, org):
    member = await platform.new_member()
    trace_id = uuid.uuid4().hex
    response = await org.client.post(
        "/v1/claims", json=claim_body(org, member),
        headers={"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"},
    )
    assert response.status_code == 201
    claim_id = response.json()["claim_id"]
    await wait_for_status(org.client, claim_id, "processed")

    async def traced(topic):
        for value, headers in await read_topic(running_stack.kafka_bootstrap, topic):
            if isinstance(value, dict) and value.get("subject") == claim_id and "traceparent" in headers:
                return headers["traceparent"].decode()
        return None

    assert (await eventually(lambda: traced("claims.events"))).split("-")[1] == trace_id
    assert (await eventually(lambda: traced("adjudication.events"))).split("-")[1] == trace_id


async def test_same_key_same_body_is_one_claim_other_body_conflicts(platform, running_stack, org):
    member = await platform.new_member()
    key = str(uuid.uuid4())
    body = claim_body(org, member)
    first = await org.client.post("/v1/claims", json=body, headers={"Idempotency-Key": key})
    second = await org.client.post("/v1/claims", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201 and second.status_code == 201
    assert first.json() == second.json()

    other = dict(body, diagnosis_codes=["I10"], lines=[dict(body["lines"][0], diagnosis_pointers=[1])])
    conflict = await org.client.post("/v1/claims", json=other, headers={"Idempotency-Key": key})
    assert conflict.status_code == 409
    assert conflict.headers["content-type"].startswith("application/problem+json")

    claim_id = first.json()["claim_id"]
    await wait_for_status(org.client, claim_id, "processed")
    received = [e for e in await events_about(running_stack.kafka_bootstrap, "claims.events", claim_id)
                if e["type"] == "claim.received"]
    assert len(received) == 1


async def test_same_key_used_by_two_organisations_makes_two_claims(platform, org):
    other = await platform.new_organization()
    member = await platform.new_member()
    key = str(uuid.uuid4())
    a = await org.client.post("/v1/claims", json=claim_body(org, member), headers={"Idempotency-Key": key})
    b = await other.client.post("/v1/claims", json=claim_body(other, member), headers={"Idempotency-Key": key})
    assert a.status_code == b.status_code == 201
    assert a.json()["claim_id"] != b.json()["claim_id"]
    await other.client.aclose()
