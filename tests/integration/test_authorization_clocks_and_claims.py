"""Authorizations against the clock and against claims, on the real stack.

A shortened decision clock (the service restarted with DECISION_CLOCK_STANDARD_SECONDS) makes an
undecided request overdue once (one authorization.overdue on Kafka) and listed by ?overdue=true.
Claims use approved authorizations through adjudication (events only): a line is denied CO-197
without one, pays against one, `used_units` grows once, a line beyond its units is denied, and
an expired authorization no longer pays after its window.
"""

from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient

from tests.integration.test_adjudication_benefits import _final, _line, _submit
from tests.support.authorizations import authorization_body, reviewer, submit, wait_for, wait_until_known
from tests.support.kafka import events_about
from tests.support.waiting import eventually


async def _events(running_stack, authorization_id: str, event_type: str) -> list[dict]:
    return [e for e in await events_about(running_stack.kafka_bootstrap, "authorizations.events", authorization_id)
            if e["type"] == event_type]


async def test_an_undecided_request_turns_overdue_once_with_a_shortened_clock(platform, running_stack, org):
    stack = running_stack.stack
    stack.stop_service("authorizations")
    stack.start_service("authorizations", {"DECISION_CLOCK_STANDARD_SECONDS": "3"})
    try:
        member = await platform.new_member(wait_for_claims=False)
        await wait_until_known(org, member)
        desk = await reviewer(platform)
        late_id = (await submit(org, authorization_body(org, member)))["authorization_id"]
        urgent_id = (await submit(org, authorization_body(org, member, urgency="expedited")))["authorization_id"]

        overdue = await wait_for(org.client, late_id, "submitted")
        assert overdue["overdue"] is False
        await eventually(lambda: _events(running_stack, late_id, "authorization.overdue"), timeout=30,
                         what="authorization.overdue on Kafka")
        view = (await org.client.get(f"/v1/authorizations/{late_id}")).json()
        assert view["overdue"] is True and view["status"] == "submitted"

        async def listed():
            items = (await desk.get("/v1/authorizations", params={"overdue": "true", "limit": 100})).json()["items"]
            ids = {item["authorization_id"] for item in items}
            return items if late_id in ids else None

        items = await eventually(listed, timeout=30, what="the request in ?overdue=true")
        assert urgent_id not in {item["authorization_id"] for item in items}
        assert all(item["overdue"] for item in items)

        # The sweeper keeps running: once a later request is marked too, the first still has one mark.
        marker_id = (await submit(org, authorization_body(org, member, codes=("27447",))))["authorization_id"]
        await eventually(lambda: _events(running_stack, marker_id, "authorization.overdue"), timeout=30,
                         what="the later request's overdue mark")
        assert len(await _events(running_stack, late_id, "authorization.overdue")) == 1

        # The queue: expedited first, then by due time.
        queue = (await desk.get("/v1/authorizations", params={"status": "submitted", "limit": 100})).json()["items"]
        ranks = [(item["urgency"] != "expedited", item["decision_due_at"]) for item in queue]
        assert ranks == sorted(ranks)
        # Decided late is still decided: the flag goes.
        decided = await desk.post(f"/v1/authorizations/{late_id}/decisions",
                                  json={"decision": "denied", "reason_code": "insufficient_documentation"})
        assert decided.status_code == 200 and decided.json()["overdue"] is False
    finally:
        stack.stop_service("authorizations")
        stack.start_service("authorizations")


async def _in_adjudication_copy(running_stack, authorization_id: str, status: str) -> None:
    mongo = AsyncMongoClient(running_stack.mongodb_uri)
    try:
        copy = mongo["test_adjudication"]["authorizations"]

        async def there():
            doc = await copy.find_one({"_id": authorization_id})
            return doc if doc and doc.get("status") == status else None

        await eventually(there, timeout=30, what=f"adjudication's copy to have {authorization_id} {status}")
    finally:
        await mongo.close()


async def test_claims_use_approved_units_once_and_an_expired_authorization_no_longer_pays(platform, running_stack, org):
    member = await platform.new_member(plan_id="silver-hmo-2026")
    await wait_until_known(org, member)
    desk = await reviewer(platform)
    today = datetime.now(UTC).date()
    code = "73721"  # MRI knee: the plan requires prior authorization

    without = await _final(org, await _submit(org, member, [_line(code, "900.00", today - timedelta(days=6))]))
    assert without["status"] == "denied"
    assert [(a["group"], a["carc"]) for a in without["lines"][0]["adjustments"]] == [("CO", "197")]

    receipt = await submit(org, authorization_body(org, member, codes=(code,), units=2,
                                                   start=today - timedelta(days=10), end=today + timedelta(days=30)))
    authorization_id = receipt["authorization_id"]
    approved = await desk.post(f"/v1/authorizations/{authorization_id}/decisions",
                               json={"decision": "approved", "approved_units": 1})
    assert approved.status_code == 200, approved.text
    await _in_adjudication_copy(running_stack, authorization_id, "approved")

    paid = await _final(org, await _submit(org, member, [_line(code, "900.00", today - timedelta(days=5))]))
    assert paid["status"] == "processed", paid
    assert paid["lines"][0]["authorization_id"] == authorization_id

    async def used():
        view = (await org.client.get(f"/v1/authorizations/{authorization_id}")).json()
        return view if view["used_units"] == 1 else None

    await eventually(used, timeout=30, what="used_units to reach 1")
    await eventually(lambda: _events(running_stack, authorization_id, "authorization.units_recorded"), timeout=30,
                     what="the units recorded on authorizations.events")

    beyond = await _final(org, await _submit(org, member, [_line(code, "900.00", today - timedelta(days=4))]))
    assert beyond["status"] == "denied"
    assert [(a["group"], a["carc"]) for a in beyond["lines"][0]["adjustments"]] == [("CO", "197")]
    assert len(await _events(running_stack, authorization_id, "authorization.units_recorded")) == 1
    assert (await org.client.get(f"/v1/authorizations/{authorization_id}")).json()["used_units"] == 1

    # An approval whose window closed two days ago: the sweeper expires it; a later service is not paid.
    ended = await submit(org, authorization_body(org, member, codes=("72148",), diagnoses=("M17.11",), units=3,
                                                 start=today - timedelta(days=20), end=today - timedelta(days=2)))
    ended_id = ended["authorization_id"]
    assert ended["status"] == "submitted"
    assert (await desk.post(f"/v1/authorizations/{ended_id}/decisions", json={"decision": "approved"})).status_code == 200
    await wait_for(org.client, ended_id, "expired")
    await _in_adjudication_copy(running_stack, ended_id, "expired")
    after = await _final(org, await _submit(org, member, [_line("72148", "900.00", today - timedelta(days=1))]))
    assert after["status"] == "denied"
    assert [(a["group"], a["carc"]) for a in after["lines"][0]["adjustments"]][0] == ("CO", "197")
