"""Info requests end to end, decided by the real engine: adjudication pends, an operator asks,
the provider answers, adjudication decides again.

An unlisted procedure (27599) pends the claim for its description (CO-16, N350);
the provider's answer sends it back, and adjudication prices it by report. Then an
operator asks about the processed claim (M127), the provider answers, and the claim
is decided once more: the ledger gives the earlier decision's accumulators back
first, so the member's deductible counts the claim once (eligibility shows it).
"""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pymongo import AsyncMongoClient

from services.claims.settings import ClaimsSettings
from tests.integration.test_claim_attachments import pdf_of, upload
from services.claims.status_view import project
from tests.support.client import claim_body, wait_for_status
from tests.support.eligibility import check
from tests.support.kafka import events_about, read_topic
from tests.support.stack import TEST_SERVICE_ENV
from tests.support.waiting import eventually


async def test_a_pend_and_an_operator_request_are_answered_and_the_claim_is_decided_again(
    platform, running_stack, org
):
    operator = await platform.operator()
    member = await platform.new_member(plan_id="silver-hmo-2026")
    dos = (datetime.now(UTC).date() - timedelta(days=9)).isoformat()
    lines = [
        {"procedure_code": "99213", "modifiers": [], "units": 1, "charge_amount": "150.00",
         "date_of_service": dos, "place_of_service": "11", "diagnosis_pointers": [1]},
        {"procedure_code": "27599", "modifiers": [], "units": 1, "charge_amount": "1200.00",
         "date_of_service": dos, "place_of_service": "22", "diagnosis_pointers": [1]},
    ]
    created = await org.client.post("/v1/claims", json=claim_body(org, member, lines=lines),
                                    headers={"Idempotency-Key": str(uuid.uuid4())})
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]

    # Adjudication pends it: the unlisted procedure needs its description (version 2).
    pended = await wait_for_status(org.client, claim_id, "info_requested")
    (pend,) = pended["info_requests"]
    assert (pend["carc"], pend["rarc"], pend["requested_by"], pend["status"], pend["line_numbers"]) == (
        "16", "N350", "adjudication", "open", [2])
    assert pended["timeline"][-1]["reason_codes"] == ["CO-16", "N350"]
    assert pended["totals"]["paid"] in (None, "0.00")  # nothing is payable while it waits

    # Another organisation cannot answer it.
    stranger = await platform.new_organization()
    try:
        foreign = await stranger.client.post(f"/v1/claims/{claim_id}/info-requests/{pend['info_request_id']}/responses",
                                             json={"attachment_ids": ["att-x"]})
        assert foreign.status_code == 404, foreign.text
    finally:
        await stranger.client.aclose()

    # The provider uploads the report and answers (version 3); adjudication decides again, pricing by
    # report (version 4). Uploads are not events of the claim: the versions stay as they were.
    report = await upload(org.client, claim_id, pdf_of(30_000), document_type="OB")
    assert report.status_code == 201, report.text
    att_1 = report.json()["attachment_id"]
    answered = await org.client.post(f"/v1/claims/{claim_id}/info-requests/{pend['info_request_id']}/responses",
                                     json={"message": "Operative report attached.", "attachment_ids": [att_1]})
    assert answered.status_code == 201, answered.text
    again = await org.client.post(f"/v1/claims/{claim_id}/info-requests/{pend['info_request_id']}/responses",
                                  json={"message": "Operative report attached.", "attachment_ids": [att_1]})
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    first = await wait_for_status(org.client, claim_id, "processed")
    unlisted = first["lines"][1]
    assert Decimal(unlisted["allowed_amount"]) > 0
    assert any("by report" in step for step in unlisted["explanation"]), unlisted["explanation"]
    deductible = sum((Decimal(line["deductible"]) for line in first["lines"]), Decimal(0))

    # An operator asks about the processed claim (version 5); the answer (6) sends it back (7).
    asked = await operator.post(f"/v1/claims/{claim_id}/info-requests",
                                json={"rarc": "M127", "message": "Send the office notes.", "due_in_days": 20},
                                headers={"Idempotency-Key": str(uuid.uuid4())})
    assert asked.status_code == 201, asked.text
    operator_request = asked.json()["info_request_id"]
    waiting = (await org.client.get(f"/v1/claims/{claim_id}")).json()
    assert waiting["status"] == "info_requested"
    assert waiting["timeline"][-1]["reason_codes"] == ["CO-16", "M127"]
    notes = await upload(org.client, claim_id, b"Office notes: follow-up in two weeks.\n", filename="notes.txt",
                         content_type="text/plain", document_type="09")
    assert notes.status_code == 201, notes.text
    answered = await org.client.post(f"/v1/claims/{claim_id}/info-requests/{operator_request}/responses",
                                     json={"message": "Notes attached.", "attachment_ids": [notes.json()["attachment_id"]]})
    assert answered.status_code == 201, answered.text

    async def decided_again():
        view = (await org.client.get(f"/v1/claims/{claim_id}")).json()
        return view if view["status"] == "processed" and len(view["timeline"]) >= 7 else None

    decided = await eventually(decided_again, timeout=60, what="the claim decided after the operator's request")
    assert decided["totals"] == first["totals"]  # the same claim decided on the same ledger, its first effect given back
    assert [t["status"] for t in decided["timeline"]] == [
        "received", "info_requested", "received", "processed", "info_requested", "received", "processed"]
    assert [r["status"] for r in decided["info_requests"]] == ["answered", "answered"]

    # The deductible counts the claim once, though it was decided twice.
    async def shows_it():
        answer = await check(org.client, member["member_id"], dos, dob=member["date_of_birth"])
        met = Decimal(answer["benefits"]["deductible"]["met"])
        return answer if met == deductible else None

    await eventually(shows_it, timeout=30, what="eligibility to show the claim's deductible once")

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
        "claim.received", "claim.info_requested", "claim.info_request_answered", "claim.processed",
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


async def test_an_unanswered_request_denies_the_claim_and_gives_its_accumulators_back(platform, running_stack, org):
    """A processed claim asked about and never answered is denied CO-16 by the claims service;
    adjudication consumes the expiry and gives back what the decision had counted, so the
    member's deductible and out-of-pocket met no longer include a claim nobody pays."""
    operator = await platform.operator()
    member = await platform.new_member(plan_id="gold-hmo-2026")
    dos = (datetime.now(UTC).date() - timedelta(days=6)).isoformat()
    lines = [{"procedure_code": code, "modifiers": [], "units": 1, "charge_amount": charge, "date_of_service": dos,
              "place_of_service": "11", "diagnosis_pointers": [1]} for code, charge in (("99214", "220.00"),
                                                                                       ("83036", "45.00"))]
    created = await org.client.post("/v1/claims", json=claim_body(org, member, lines=lines),
                                    headers={"Idempotency-Key": str(uuid.uuid4())})
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    processed = await wait_for_status(org.client, claim_id, "processed", timeout=90)
    counted = (sum((Decimal(line["deductible"]) for line in processed["lines"]), Decimal(0)),
               Decimal(processed["totals"]["patient_responsibility"]))
    assert counted[1] > 0

    async def met_is(expected):
        answer = await check(org.client, member["member_id"], dos, dob=member["date_of_birth"])
        met = (Decimal(answer["benefits"]["deductible"]["met"]), Decimal(answer["benefits"]["out_of_pocket_max"]["met"]))
        return ("as expected", met) if met == expected else None

    await eventually(lambda: met_is(counted), timeout=30, what=f"the member's met to count the claim: {counted}")

    asked = await operator.post(f"/v1/claims/{claim_id}/info-requests",
                                json={"rarc": "M127", "message": "Send the notes.", "due_in_seconds": 2},
                                headers={"Idempotency-Key": str(uuid.uuid4())})
    assert asked.status_code == 201, asked.text
    denied = await wait_for_status(org.client, claim_id, "denied", timeout=60)
    assert denied["totals"]["paid"] == "0.00" and denied["info_requests"][0]["status"] == "expired"

    zero = (Decimal("0.00"), Decimal("0.00"))
    await eventually(lambda: met_is(zero), timeout=30, what="the claim's accumulators given back")

    async def given_back():
        events = [e for e, _ in await read_topic(running_stack.kafka_bootstrap, "adjudication.events")
                  if isinstance(e, dict) and e.get("type") == "accumulators.applied"
                  and e["data"]["claim_id"] == claim_id]
        return events if len(events) >= 2 else None

    events = await eventually(given_back, timeout=30, what="the give-back on adjudication.events")
    assert len(events) == 2, [e["data"] for e in events]  # counted once, given back once
    assert Decimal(events[0]["data"]["out_of_pocket_applied"]) == counted[1]
    assert Decimal(events[1]["data"]["out_of_pocket_applied"]) == -counted[1]
