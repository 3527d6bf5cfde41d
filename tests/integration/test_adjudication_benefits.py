"""Full adjudication through the running platform: benefits across claims, and prior authorization.

HTTP → claims → Kafka → adjudication → claims → GET, with real Kafka and FerretDB.
Authorizations are published onto authorizations.events in the contract's format
(the authorizations service comes later), and adjudication's copy of them is
awaited in its own database before the claim that needs one is sent.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pymongo import AsyncMongoClient

from tests.support.client import claim_body, wait_for_status
from tests.support.eligibility import check, publish
from tests.support.kafka import read_topic
from tests.support.waiting import eventually


def _line(code: str, charge: str, dos: date, **extra) -> dict:
    return {"procedure_code": code, "modifiers": extra.get("modifiers", []), "units": extra.get("units", 1),
            "charge_amount": charge, "date_of_service": dos.isoformat(), "place_of_service": "11",
            "diagnosis_pointers": [1]}


async def _submit(org, member, lines: list[dict]) -> str:
    response = await org.client.post("/v1/claims", json=claim_body(org, member, lines=lines),
                                     headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    return response.json()["claim_id"]


async def _final(org, claim_id: str) -> dict:
    async def probe():
        response = await org.client.get(f"/v1/claims/{claim_id}")
        body = response.json()
        return body if response.status_code == 200 and body["status"] in ("processed", "denied") else None

    return await eventually(probe, timeout=60, what=f"claim {claim_id} decided")


async def test_deductible_met_across_claims_is_the_sum_of_their_parts_and_eligibility_shows_it(platform, org):
    # Lab services on silver-hmo-2026: deductible first, then coinsurance.
    member = await platform.new_member(plan_id="silver-hmo-2026")
    today = datetime.now(UTC).date()
    claim_ids = []
    for offset, charge in ((20, "80.00"), (15, "120.00"), (10, "95.00")):
        claim_ids.append(await _submit(org, member, [_line("80053", charge, today - timedelta(days=offset)),
                                                     _line("85025", charge, today - timedelta(days=offset))]))
    decided = [await _final(org, claim_id) for claim_id in claim_ids]
    deductible = sum((Decimal(line["deductible"]) for claim in decided for line in claim["lines"]), Decimal(0))
    share = sum((Decimal(line["patient_responsibility"]) for claim in decided for line in claim["lines"]), Decimal(0))
    assert deductible > 0
    for claim in decided:
        assert claim["status"] == "processed"
        for line in claim["lines"]:
            assert any("deductible" in step for step in line["explanation"]), line["explanation"]

    async def shows_it():
        answer = await check(org.client, member["member_id"], today - timedelta(days=1), dob=member["date_of_birth"])
        met = answer["benefits"]["deductible"]
        return answer if Decimal(met["met"]) == deductible else None

    answer = await eventually(shows_it, timeout=30, what="eligibility to show the deductible met")
    benefits = answer["benefits"]
    assert Decimal(benefits["deductible"]["remaining"]) == Decimal(benefits["deductible"]["amount"]) - deductible
    assert Decimal(benefits["out_of_pocket_max"]["met"]) == share


def _approved(member_id: str, organization_id: str, code: str, units: int, start: date, end: date) -> tuple[str, dict]:
    authorization_id = f"PA-{uuid.uuid4().hex[:10]}"
    return authorization_id, {
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": "/services/authorizations",
        "type": "authorization.approved", "subject": authorization_id,
        "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "datacontenttype": "application/json",
        "aggregateversion": 1, "organizationid": organization_id, "partitionkey": member_id,
        "data": {"authorization_id": authorization_id, "member_id": member_id, "organization_id": organization_id,
                 "procedure_codes": [code], "approved_units": units, "start_date": start.isoformat(),
                 "end_date": end.isoformat(), "approved_at": datetime.now(UTC).isoformat().replace("+00:00", "Z")},
    }


async def test_prior_authorization_pays_against_an_approval_and_only_up_to_its_units(platform, running_stack, org):
    member = await platform.new_member(plan_id="silver-hmo-2026")
    today = datetime.now(UTC).date()
    code = "72148"  # MRI lumbar spine: the plan requires prior authorization

    without = await _final(org, await _submit(org, member, [_line(code, "900.00", today - timedelta(days=12))]))
    assert without["status"] == "denied"
    assert [(a["group"], a["carc"]) for a in without["lines"][0]["adjustments"]] == [("CO", "197")]

    authorization_id, event = _approved(member["member_id"], org.organization_id, code, 1,
                                        today - timedelta(days=30), today + timedelta(days=30))
    await publish(running_stack.kafka_bootstrap, "authorizations.events", [event])
    mongo = AsyncMongoClient(running_stack.mongodb_uri)
    try:
        copy = mongo["test_adjudication"]["authorizations"]
        await eventually(lambda: copy.find_one({"_id": authorization_id}), timeout=30,
                         what="adjudication's copy of the authorization")
    finally:
        await mongo.close()

    with_it = await _final(org, await _submit(org, member, [_line(code, "900.00", today - timedelta(days=8))]))
    line = with_it["lines"][0]
    assert with_it["status"] == "processed", with_it
    assert line["authorization_id"] == authorization_id
    assert Decimal(line["allowed_amount"]) > 0
    assert any(authorization_id in step for step in line["explanation"])

    async def units_used():
        records = await read_topic(running_stack.kafka_bootstrap, "adjudication.events")
        used = [value["data"] for value, _ in records if isinstance(value, dict)
                and value.get("type") == "authorization.units_used"
                and value["data"]["authorization_id"] == authorization_id]
        return used or None

    used = await eventually(units_used, timeout=30, what="authorization.units_used on adjudication.events")
    assert {u["adjudication_id"] for u in used} and sum(u["units"] for u in {u["adjudication_id"]: u for u in used}.values()) == 1

    beyond = await _final(org, await _submit(org, member, [_line(code, "900.00", today - timedelta(days=4))]))
    assert beyond["status"] == "denied"
    assert [(a["group"], a["carc"], a.get("rarc")) for a in beyond["lines"][0]["adjustments"]] == [("CO", "197", "N54")]


async def test_a_duplicate_that_slips_past_intake_is_denied_co18_by_adjudication(platform, org):
    """Two identical claims sent at once: intake's duplicate edit reads a read model that may
    not show the first yet. Whatever intake let through, adjudication (which decides one
    member's claims in order against its ledger) pays the service once."""
    import asyncio

    member = await platform.new_member(plan_id="gold-hmo-2026")
    day = datetime.now(UTC).date() - timedelta(days=6)
    body = claim_body(org, member, lines=[_line("99214", "210.00", day)])
    answers = await asyncio.gather(*(
        org.client.post("/v1/claims", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}) for _ in range(3)
    ))
    accepted = [a.json()["claim_id"] for a in answers if a.status_code == 201]
    assert accepted and all(a.status_code in (201, 422) for a in answers), [a.text for a in answers]
    decided = [await _final(org, claim_id) for claim_id in accepted]
    paid = [c for c in decided if c["status"] == "processed"]
    duplicates = [c for c in decided if c["status"] == "denied"]
    assert len(paid) == 1, decided
    for claim in duplicates:
        assert [(a["group"], a["carc"]) for a in claim["lines"][0]["adjustments"]] == [("CO", "18")]
