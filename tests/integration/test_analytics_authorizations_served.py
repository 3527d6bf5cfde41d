"""GET /v1/analytics/authorizations through the gateway, fed by authorizations the test submits and
decides over HTTP (the authorizations service's own projection of its events): figures equal what
the test's requests imply, for the provider and for an operator, and another organisation's
requests never appear in a provider's figures."""

from datetime import UTC, datetime, timedelta
from statistics import mean, median

from tests.support.authorizations import authorization_body, reviewer, submit, wait_until_known
from tests.support.waiting import eventually


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _seconds(view: dict) -> int:
    return max(0, int((_at(view["decided_at"]) - _at(view["submitted_at"])).total_seconds()))


async def test_authorization_metrics_served_from_real_requests(platform, org):
    other = await platform.new_organization()
    try:
        member = await platform.new_member(wait_for_claims=False)
        await wait_until_known(org, member)
        await wait_until_known(other, member)
        desk = await reviewer(platform)

        # Standard: two approved by the imaging rule, one denied by a reviewer, one approved after an
        # information request, one left undecided. Expedited: one approved by a reviewer.
        auto = [await submit(org, authorization_body(org, member, codes=("72148",), diagnoses=("M54.16",), units=1))
                for _ in range(2)]
        assert all(a["status"] == "approved" for a in auto)
        denied = await submit(org, authorization_body(org, member))
        asked = await submit(org, authorization_body(org, member, codes=("27447",)))
        await submit(org, authorization_body(org, member, codes=("29881",)))
        expedited = await submit(org, authorization_body(org, member, urgency="expedited"))
        # Another organisation's request, decided: never in org's figures.
        foreign = await submit(other, authorization_body(other, member))

        async def decide(authorization_id: str, body: dict) -> None:
            response = await desk.post(f"/v1/authorizations/{authorization_id}/decisions", json=body)
            assert response.status_code == 200, response.text

        await decide(denied["authorization_id"], {"decision": "denied", "reason_code": "not_medically_necessary"})
        await decide(foreign["authorization_id"], {"decision": "denied", "reason_code": "not_medically_necessary"})
        await decide(asked["authorization_id"], {"decision": "info_requested", "note": "Send the imaging report."})
        view = (await org.client.get(f"/v1/authorizations/{asked['authorization_id']}")).json()
        (request,) = view["info_requests"]
        answer = await org.client.post(
            f"/v1/authorizations/{asked['authorization_id']}/info-requests/{request['info_request_id']}/responses",
            json={"message": "Report in the chart; see attached summary."})
        assert answer.status_code == 201, answer.text
        await decide(asked["authorization_id"], {"decision": "approved", "approved_units": 2})
        await decide(expedited["authorization_id"], {"decision": "approved", "approved_units": 4})

        views = {}
        for receipt in (*auto, denied, asked, expedited):
            views[receipt["authorization_id"]] = (await org.client.get(
                f"/v1/authorizations/{receipt['authorization_id']}")).json()
        standard_seconds = [_seconds(views[r["authorization_id"]]) for r in (*auto, denied, asked)]
        expedited_seconds = [_seconds(views[expedited["authorization_id"]])]

        # Days are UTC; a window around today keeps a run across midnight inside it.
        today = datetime.now(UTC).date()
        window = {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}

        async def figures(client, **extra):
            response = await client.get("/v1/analytics/authorizations", params={**window, **extra})
            assert response.status_code == 200, response.text
            body = response.json()
            by_urgency = {row["urgency"]: row for row in body["by_urgency"]}
            if by_urgency["standard"]["decided"] == 4 and by_urgency["expedited"]["decided"] == 1:
                return body, by_urgency
            return None

        body, by_urgency = await eventually(lambda: figures(org.client), timeout=60, what="authorization metrics")
        assert body["organization_id"] == org.organization_id
        standard, urgent = by_urgency["standard"], by_urgency["expedited"]
        assert (standard["submitted"], standard["decided"], standard["approved"], standard["denied"]) == (5, 4, 3, 1)
        assert standard["approved_after_info_request"] == 1
        assert standard["approval_rate"] == 0.75 and standard["denial_rate"] == 0.25
        assert standard["approved_after_info_request_rate"] == 0.25
        assert standard["mean_decision_seconds"] == round(mean(standard_seconds), 1)
        assert standard["median_decision_seconds"] == median(standard_seconds)
        assert standard["decided_after_due"] == 0 and standard["overdue"] == 0
        assert (urgent["submitted"], urgent["decided"], urgent["approved"], urgent["denied"]) == (1, 1, 1, 0)
        assert urgent["approval_rate"] == 1.0
        assert urgent["median_decision_seconds"] == median(expedited_seconds)

        # The operator, scoped to the organisation, sees the same figures.
        operator = await platform.operator()
        scoped, scoped_rows = await eventually(lambda: figures(operator, organization_id=org.organization_id),
                                               timeout=30, what="the operator's scoped figures")
        assert scoped_rows == by_urgency and scoped["organization_id"] == org.organization_id
        # All organisations: at least this one's and the other's decisions.
        everyone = await operator.get("/v1/analytics/authorizations", params=window)
        assert everyone.status_code == 200 and everyone.json()["organization_id"] is None
        every = {row["urgency"]: row for row in everyone.json()["by_urgency"]}
        assert every["standard"]["denied"] >= 2 and every["standard"]["decided"] >= 5

        # The other organisation sees its one denial, and may not ask for org's figures.
        _, theirs = await eventually(lambda: _one_denial(other.client, window), timeout=30, what="the other figures")
        assert (theirs["standard"]["submitted"], theirs["standard"]["approved"]) == (1, 0)
        refused = await other.client.get("/v1/analytics/authorizations",
                                         params={**window, "organization_id": org.organization_id})
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        backwards = await org.client.get("/v1/analytics/authorizations",
                                         params={"from": today.isoformat(), "to": (today - timedelta(days=2)).isoformat()})
        assert backwards.status_code == 422
    finally:
        await other.client.aclose()


async def _one_denial(client, window: dict):
    response = await client.get("/v1/analytics/authorizations", params=window)
    assert response.status_code == 200, response.text
    rows = {row["urgency"]: row for row in response.json()["by_urgency"]}
    return (response.json(), rows) if rows["standard"]["denied"] == 1 else None

