"""The feedback loop end to end, on real Kafka, FerretDB and the real adjudication engine.

Three claims: one pended by adjudication (unlisted code 17999: RARC N350), one asked by
an operator (M127); the provider answers each with a message and an attachment on the
claim's thread, and each is decided again to a final status. A third claim's request,
due in a few seconds, is left unanswered: the sweeper expires it and the claim is
denied CO-16 with its RARC. Every step is on the timeline with its reason codes, and the
thread (messages and answers) is the same for provider and payer.
"""

import uuid
from datetime import UTC, datetime, timedelta

from tests.integration.test_claim_attachments import pdf_of, upload
from tests.support.client import claim_body, wait_for_status
from tests.support.kafka import events_about
from tests.support.waiting import eventually


def _lines(code: str, charge: str, place: str = "11") -> list[dict]:
    dos = (datetime.now(UTC).date() - timedelta(days=5)).isoformat()
    return [{"procedure_code": code, "modifiers": [], "units": 1, "charge_amount": charge,
             "date_of_service": dos, "place_of_service": place, "diagnosis_pointers": [1]}]


async def _submit(org, member, lines) -> str:
    created = await org.client.post("/v1/claims", json=claim_body(org, member, lines=lines),
                                    headers={"Idempotency-Key": str(uuid.uuid4())})
    assert created.status_code == 201, created.text
    return created.json()["claim_id"]


async def _answer(org, claim_id: str, request: dict, text: str) -> dict:
    attachment = await upload(org.client, claim_id, pdf_of(40_000), document_type="OB")
    assert attachment.status_code == 201, attachment.text
    attachment_id = attachment.json()["attachment_id"]
    answered = await org.client.post(
        f"/v1/claims/{claim_id}/info-requests/{request['info_request_id']}/responses",
        json={"message": text, "attachment_ids": [attachment_id]})
    assert answered.status_code == 201, answered.text
    return {**answered.json(), "attachment_id": attachment_id}


async def _final(org, claim_id: str, decisions: int) -> dict:
    async def decided():
        view = (await org.client.get(f"/v1/claims/{claim_id}")).json()
        finals = [t for t in view["timeline"] if t["status"] in ("processed", "denied")]
        return view if view["status"] in ("processed", "denied") and len(finals) >= decisions else None

    return await eventually(decided, timeout=90, what=f"claim {claim_id} decided again")


async def test_pended_asked_and_unanswered_claims_go_round_the_loop(platform, running_stack, org):
    operator = await platform.operator()
    member = await platform.new_member()

    # 1. Adjudication pends an unlisted procedure for its description (CO-16 N350).
    pended_id = await _submit(org, member, _lines("17999", "800.00", "22"))
    pended = await wait_for_status(org.client, pended_id, "info_requested", timeout=90)
    (pend,) = pended["info_requests"]
    assert (pend["requested_by"], pend["carc"], pend["rarc"]) == ("adjudication", "16", "N350")

    # 2. An operator asks about another claim once it is processed (CO-16 M127).
    asked_id = await _submit(org, member, _lines("99213", "150.00"))
    await wait_for_status(org.client, asked_id, "processed", timeout=90)
    asked = await operator.post(f"/v1/claims/{asked_id}/info-requests",
                                json={"rarc": "M127", "message": "Send the office notes."},
                                headers={"Idempotency-Key": str(uuid.uuid4())})
    assert asked.status_code == 201, asked.text
    operator_request = asked.json()

    # 3. A third request is due in 3 seconds and nobody answers it.
    ignored_id = await _submit(org, member, _lines("99214", "210.00"))
    await wait_for_status(org.client, ignored_id, "processed", timeout=90)
    short = await operator.post(f"/v1/claims/{ignored_id}/info-requests",
                                json={"rarc": "M127", "message": "Send the notes.", "due_in_seconds": 3},
                                headers={"Idempotency-Key": str(uuid.uuid4())})
    assert short.status_code == 201, short.text
    assert short.json()["due_at"]

    # The provider answers the first two, each with a message and an attachment of the claim.
    first = await _answer(org, pended_id, pend, "Operative report attached: arthroscopic debridement.")
    second = await _answer(org, asked_id, operator_request, "Office notes attached.")
    # An attachment of another claim is refused, naming it, and nothing changes.
    wrong = await org.client.post(f"/v1/claims/{ignored_id}/info-requests/{short.json()['info_request_id']}/responses",
                                  json={"message": "Wrong file.", "attachment_ids": [first["attachment_id"]]})
    assert wrong.status_code in (409, 422), wrong.text  # 409 when it has already expired

    decided_pend = await _final(org, pended_id, 1)
    decided_asked = await _final(org, asked_id, 2)
    assert decided_pend["status"] == "processed"
    assert [t["status"] for t in decided_pend["timeline"]] == ["received", "info_requested", "received", "processed"]
    assert decided_pend["timeline"][1]["reason_codes"] == ["CO-16", "N350"]
    assert [t["status"] for t in decided_asked["timeline"]] == [
        "received", "processed", "info_requested", "received", "processed"]
    assert decided_asked["timeline"][2]["reason_codes"] == ["CO-16", "M127"]
    assert [r["status"] for r in decided_asked["info_requests"]] == ["answered"]
    assert decided_asked["info_requests"][0]["attachment_ids"] == [second["attachment_id"]]

    # The unanswered one: expired by the sweeper, then denied CO-16 with its RARC.
    denied = await wait_for_status(org.client, ignored_id, "denied", timeout=60)
    assert [(t["status"], t.get("step"), t.get("reason_codes")) for t in denied["timeline"]] == [
        ("received", None, None), ("processed", None, denied["timeline"][1]["reason_codes"]),
        ("info_requested", None, ["CO-16", "M127"]),
        ("info_requested", "info_request_expired", ["CO-16", "M127"]),
        ("denied", None, ["CO-16", "M127"])]
    assert denied["info_requests"][0]["status"] == "expired"
    assert denied["totals"]["paid"] == "0.00"
    assert all(adj["carc"] == "16" and adj["rarc"] == "M127" for line in denied["lines"] for adj in line["adjustments"])
    late = await org.client.post(f"/v1/claims/{ignored_id}/info-requests/{short.json()['info_request_id']}/responses",
                                 json={"message": "Too late."})
    assert late.status_code == 409 and late.headers["content-type"] == "application/problem+json"

    # The thread: the answer's text, then a payer's message; both parties read the same.
    posted = await operator.post(f"/v1/claims/{pended_id}/messages",
                                 json={"body": "Thank you, priced by report.", "attachment_ids": [first["attachment_id"]]})
    assert posted.status_code == 201, posted.text
    assert posted.json()["author"] == {"party": "payer", "role": "operator"}
    mine = await org.client.post(f"/v1/claims/{pended_id}/messages", json={"body": "Received."},
                                 headers={"Idempotency-Key": "thanks"})
    assert mine.status_code == 201 and mine.json()["author"]["party"] == "provider"
    replay = await org.client.post(f"/v1/claims/{pended_id}/messages", json={"body": "Received."},
                                   headers={"Idempotency-Key": "thanks"})
    assert replay.status_code == 201 and replay.json() == mine.json()
    page1 = (await org.client.get(f"/v1/claims/{pended_id}/messages", params={"limit": 2})).json()
    page2 = (await operator.get(f"/v1/claims/{pended_id}/messages",
                                params={"limit": 2, "cursor": page1["next_cursor"]})).json()
    assert [m["body"] for m in page1["items"] + page2["items"]] == [
        "Operative report attached: arthroscopic debridement.", "Thank you, priced by report.", "Received."]
    assert page2["next_cursor"] is None
    assert page1["items"][0]["info_request_id"] == pend["info_request_id"]

    # Bad input: 422 problem+json, nothing stored.
    too_long = await org.client.post(f"/v1/claims/{pended_id}/messages", json={"body": "x" * 10_001})
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["loc"] == "body"
    foreign = await org.client.post(f"/v1/claims/{pended_id}/messages",
                                    json={"body": "See this.", "attachment_ids": [second["attachment_id"]]})
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["loc"] == "attachment_ids[0]"
    assert second["attachment_id"] in foreign.json()["errors"][0]["message"]
    stranger = await platform.new_organization()
    try:
        assert (await stranger.client.get(f"/v1/claims/{pended_id}/messages")).status_code == 404
        assert (await stranger.client.post(f"/v1/claims/{pended_id}/messages", json={"body": "hi"})).status_code == 404
    finally:
        await stranger.client.aclose()
    after = (await org.client.get(f"/v1/claims/{pended_id}/messages")).json()["items"]
    assert len(after) == 3

    # claims.events: the message events carry no body.
    async def message_events():
        events = await events_about(running_stack.kafka_bootstrap, "claims.events", pended_id)
        posted_events = [e for e in events if e["type"] == "claim.message_posted"]
        return posted_events if len(posted_events) >= 2 else None

    for event in await eventually(message_events, what="claim.message_posted on claims.events"):
        assert "body" not in event["data"] and "Received." not in str(event)
