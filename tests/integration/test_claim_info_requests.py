"""Info requests end to end: an operator asks, adjudication pends, the provider answers.

The real adjudication worker decides the claim first (processed). Then an operator
asks for documentation and the provider answers over HTTP; the decisions after that
are published onto adjudication.events by this test, as adjudication publishes them
(keyed by member, for the answered claim version), and applied by the claims
service's own decision consumer: a stale one (made on version 1, before the answer)
is ignored, a pending one opens adjudication's info request, and after its answer a
processed one (lines with explanation and authorization) finishes the claim.

Note for a re-adjudicating engine: if adjudication itself decides the answered
version, its decision races the one published here for that version (the first
applied wins, the other is ignored as already decided).
"""

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from contracts.envelope import new_event
from contracts.events.adjudication import CLAIM_ADJUDICATED
from services.claims.domain import info_request_id_for
from services.claims.settings import ClaimsSettings
from services.claims.status_view import project
from tests.support.client import claim_body, wait_for_status
from tests.support.kafka import events_about
from tests.support.stack import TEST_SERVICE_ENV
from tests.support.waiting import eventually


def _decision(claim: dict, *, version: int, outcome: str, info_request: dict | None = None) -> dict:
    lines = []
    for line in claim["lines"]:
        charge = Decimal(line["charge_amount"])
        allowed = charge - Decimal("10.00")
        lines.append({
            "line_number": line["line_number"], "procedure_code": line["procedure_code"],
            "charge_amount": line["charge_amount"], "allowed_amount": f"{allowed:.2f}", "deductible": "0.00",
            "copay": "0.00", "coinsurance": "0.00", "paid_amount": f"{allowed:.2f}", "patient_responsibility": "0.00",
            "adjustments": [{"group": "CO", "carc": "45", "amount": "10.00"}],
            "explanation": [f"Fee schedule amount {allowed:.2f} (in network).", "No deductible or copay applies."],
            **({"authorization_id": "auth-test-1"} if line["line_number"] == 1 else {}),
        })
    charge = sum(Decimal(line["charge_amount"]) for line in lines)
    allowed = sum(Decimal(line["allowed_amount"]) for line in lines)
    decision = {
        "adjudication_id": str(uuid.uuid4()), "claim_id": claim["claim_id"], "claim_version": version,
        "outcome": outcome, "adjudicated_at": datetime.now(UTC).isoformat(), "lines": lines,
        "totals": {"charge": f"{charge:.2f}", "allowed": f"{allowed:.2f}", "paid": f"{allowed:.2f}",
                   "patient_responsibility": "0.00"},
    }
    if info_request:
        decision["info_request"] = info_request
    return decision


async def _publish(bootstrap: str, member_id: str, organization_id: str, *decisions: dict) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for decision in decisions:
            event = new_event(
                source="/services/adjudication", type=CLAIM_ADJUDICATED, subject=decision["claim_id"],
                id=decision["adjudication_id"], data=decision, organizationid=organization_id,
                partitionkey=member_id, correlationid=decision["claim_id"],
            )
            await producer.send_and_wait(
                "adjudication.events", json.dumps(event.to_json_dict()).encode(), key=member_id.encode(),
                headers=[("ce_type", CLAIM_ADJUDICATED.encode()), ("ce_id", event.id.encode())],
            )
    finally:
        await producer.stop()


async def test_an_operator_request_and_a_pending_decision_are_answered_and_the_claim_is_decided_again(
    platform, running_stack, org
):
    operator = await platform.operator()
    member = await platform.new_member()
    created = await org.client.post("/v1/claims", json=claim_body(org, member),
                                    headers={"Idempotency-Key": str(uuid.uuid4())})
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    claim = await wait_for_status(org.client, claim_id, "processed")  # the real worker's decision: version 2

    # An operator asks (version 3): the processed claim waits, no longer payable.
    asked = await operator.post(f"/v1/claims/{claim_id}/info-requests",
                                json={"rarc": "M127", "message": "Send the office notes.", "due_in_days": 20},
                                headers={"Idempotency-Key": str(uuid.uuid4())})
    assert asked.status_code == 201, asked.text
    operator_request = asked.json()["info_request_id"]
    claim = (await org.client.get(f"/v1/claims/{claim_id}")).json()
    assert claim["status"] == "info_requested"
    assert claim["timeline"][-1]["reason_codes"] == ["CO-16", "M127"]
    assert [(r["info_request_id"], r["status"], r["requested_by"]) for r in claim["info_requests"]] == [
        (operator_request, "open", "operator")]

    # Another organisation cannot see it, nor answer it.
    stranger = await platform.new_organization()
    try:
        foreign = await stranger.client.post(f"/v1/claims/{claim_id}/info-requests/{operator_request}/responses",
                                             json={"attachment_ids": ["att-x"]})
        assert foreign.status_code == 404, foreign.text
    finally:
        await stranger.client.aclose()

    # The provider answers (version 4): back to adjudication.
    answered = await org.client.post(f"/v1/claims/{claim_id}/info-requests/{operator_request}/responses",
                                     json={"message": "Notes attached.", "attachment_ids": ["att-1"]})
    assert answered.status_code == 201, answered.text
    assert answered.json()["status"] == "answered" and answered.json()["message_id"]
    claim = (await org.client.get(f"/v1/claims/{claim_id}")).json()
    assert claim["status"] == "received"
    assert claim["info_requests"][0]["status"] == "answered" and claim["info_requests"][0]["answered_at"]

    # A decision made on version 1 (before the answer) is stale; the pend on version 4 applies.
    stale = _decision(claim, version=1, outcome="processed")
    pend = _decision(claim, version=4, outcome="info_requested", info_request={
        "carc": "16", "rarc": "N350", "line_numbers": [1], "message": "Describe the service on line 1."})
    await _publish(running_stack.kafka_bootstrap, member["member_id"], org.organization_id, stale, pend)
    pended = await wait_for_status(org.client, claim_id, "info_requested")
    adjudication_request = info_request_id_for(pend["adjudication_id"])
    assert [(r["info_request_id"], r["status"]) for r in pended["info_requests"]] == [
        (operator_request, "answered"), (adjudication_request, "open")]
    opened = pended["info_requests"][1]
    assert (opened["carc"], opened["rarc"], opened["requested_by"], opened["line_numbers"]) == (
        "16", "N350", "adjudication", [1])
    assert pended["timeline"][-1]["reason_codes"] == ["CO-16", "N350"]
    assert pended["totals"]["paid"] == claim["totals"]["paid"]  # the stale decision priced nothing

    # Its answer (version 6), then the decision on that version.
    answered = await org.client.post(f"/v1/claims/{claim_id}/info-requests/{adjudication_request}/responses",
                                     json={"attachment_ids": ["att-2"]})
    assert answered.status_code == 201, answered.text
    again = await org.client.post(f"/v1/claims/{claim_id}/info-requests/{adjudication_request}/responses",
                                  json={"attachment_ids": ["att-2"]})
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    final = _decision(claim, version=6, outcome="processed")
    await _publish(running_stack.kafka_bootstrap, member["member_id"], org.organization_id, final)
    decided = await wait_for_status(org.client, claim_id, "processed")
    assert decided["totals"] == final["totals"]
    assert decided["lines"][0]["explanation"] == final["lines"][0]["explanation"]
    assert decided["lines"][0]["authorization_id"] == "auth-test-1"
    assert decided["lines"][1].get("authorization_id") is None
    assert [t["status"] for t in decided["timeline"]] == [
        "received", "processed", "info_requested", "received", "info_requested", "received", "processed"]
    assert [r["status"] for r in decided["info_requests"]] == ["answered", "answered"]

    # The live read model equals a fold of claims.events from offset zero.
    settings = ClaimsSettings(mongodb_uri=running_stack.mongodb_uri,
                              mongodb_database_prefix=TEST_SERVICE_ENV["MONGODB_DATABASE_PREFIX"])
    client = AsyncMongoClient(running_stack.mongodb_uri, tz_aware=True)
    try:
        db = client[settings.database_name]
        live = await eventually(lambda: _view_at(db, claim_id, 7), what="the read model to reach version 7")
    finally:
        await client.close()

    async def published():
        events = await events_about(running_stack.kafka_bootstrap, "claims.events", claim_id)
        return events if len(events) >= 7 else None

    events = sorted(await eventually(published, what="the claim's 7 events on claims.events"),
                    key=lambda e: e["aggregateversion"])
    assert [e["type"] for e in events] == [
        "claim.received", "claim.processed", "claim.info_requested", "claim.info_request_answered",
        "claim.info_requested", "claim.info_request_answered", "claim.processed"]
    folded = None
    for event in events:
        folded = project(folded, event["type"], event["data"], event["aggregateversion"]) or folded
    assert folded == live

    # The search lists it like GET shows it.
    async def listed():
        items = (await org.client.get("/v1/claims", params={"member_id": member["member_id"]})).json()["items"]
        return next((c for c in items if c["claim_id"] == claim_id and c["status"] == "processed"), None)

    item = await eventually(listed, what="the search to list the processed claim")
    assert item["info_requests"] == decided["info_requests"] and item["lines"] == decided["lines"]


async def _view_at(db, claim_id: str, version: int) -> dict | None:
    view = await db.claim_status.find_one({"_id": claim_id})
    return view if view and view["version"] >= version else None
