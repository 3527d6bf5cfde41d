"""Family policies: enrollment rules over HTTP, and a family member's check after both members' accumulators move."""

from datetime import date

from tests.support.eligibility import DOB, accumulators_event, check, days, publish, today
from tests.support.waiting import eventually

PLAN = "gold-hmo-2026"  # deductible 1500.00 / 3000.00, out-of-pocket 7500.00 / 15000.00


def member_body(**extra) -> dict:
    return {"first_name": "Test", "last_name": "Family", "date_of_birth": DOB, "gender": "female",
            "plan_id": PLAN, "coverage_start": date(today().year - 1, 1, 1).isoformat(), **extra}


async def enroll(operator, **extra) -> dict:
    response = await operator.post("/v1/admin/members", json=member_body(**extra))
    assert response.status_code == 201, response.text
    return response.json()


def problem_locs(response) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [(e["loc"], e["code"]) for e in response.json()["errors"]]


async def test_family_enrollment_is_shown_and_refused_where_it_cannot_be(operator):
    subscriber = await enroll(operator, coverage_tier="family")
    assert (subscriber["coverage_tier"], subscriber["subscriber_member_id"], subscriber["family_id"]) == (
        "family", None, subscriber["member_id"])
    dependent = await enroll(operator, subscriber_member_id=subscriber["member_id"].lower() + " ")
    assert (dependent["coverage_tier"], dependent["subscriber_member_id"], dependent["family_id"]) == (
        "family", subscriber["member_id"], subscriber["member_id"])
    shown = await operator.get(f"/v1/admin/members/{dependent['member_id']}")
    assert (shown.json()["coverage_tier"], shown.json()["family_id"]) == ("family", subscriber["member_id"])
    alone = await enroll(operator)
    assert (alone["coverage_tier"], alone["subscriber_member_id"], alone["family_id"]) == ("individual", None, None)

    unknown = await operator.post("/v1/admin/members", json=member_body(subscriber_member_id="M0000000001"))
    assert problem_locs(unknown) == [("subscriber_member_id", "unknown_subscriber")]
    never_issued = await operator.post("/v1/admin/members", json=member_body(subscriber_member_id="nobody"))
    assert problem_locs(never_issued) == [("subscriber_member_id", "unknown_subscriber")]
    individual = await operator.post("/v1/admin/members", json=member_body(
        coverage_tier="individual", subscriber_member_id=subscriber["member_id"]))
    assert problem_locs(individual) == [("coverage_tier", "dependent_is_family")]
    of_a_dependent = await operator.post("/v1/admin/members", json=member_body(
        subscriber_member_id=dependent["member_id"]))
    assert problem_locs(of_a_dependent) == [("subscriber_member_id", "subscriber_is_dependent")]
    of_an_individual = await operator.post("/v1/admin/members", json=member_body(
        subscriber_member_id=alone["member_id"]))
    assert problem_locs(of_an_individual) == [("subscriber_member_id", "subscriber_not_on_family_policy")]
    both = await operator.post("/v1/admin/members", json=member_body(
        coverage_tier="individual", subscriber_member_id="M0000000001"))
    assert problem_locs(both) == [("coverage_tier", "dependent_is_family"),
                                  ("subscriber_member_id", "unknown_subscriber")]
    bad_tier = await operator.post("/v1/admin/members", json=member_body(coverage_tier="couple"))
    assert [loc for loc, _ in problem_locs(bad_tier)] == ["coverage_tier"]


async def test_an_idempotent_retry_of_a_dependents_enrollment_is_the_same_member(operator):
    subscriber = await enroll(operator, coverage_tier="family")
    body = member_body(subscriber_member_id=subscriber["member_id"])
    key = {"Idempotency-Key": f"family-{subscriber['member_id']}"}
    first = await operator.post("/v1/admin/members", json=body, headers=key)
    again = await operator.post("/v1/admin/members", json=body, headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    other = await operator.post("/v1/admin/members", json=member_body(), headers=key)
    assert other.status_code == 409, other.text


async def test_a_family_members_check_shows_the_family_met_and_remaining(operator, running_stack, org):
    dos = today() - days(2)
    subscriber = await enroll(operator, coverage_tier="family")
    dependent = await enroll(operator, subscriber_member_id=subscriber["member_id"])
    alone = await enroll(operator)
    family_id = subscriber["member_id"]
    fresh = await check(org.client, dependent["member_id"], dos)
    assert fresh["benefits"]["deductible"] == {"amount": "1500.00", "met": "0.00", "remaining": "1500.00",
                                               "family": {"amount": "3000.00", "met": "0.00", "remaining": "3000.00"}}

    subscriber_claim = accumulators_event(subscriber["member_id"], PLAN, dos.year, "1200.00", "1300.00",
                                          family_id=family_id)
    dependent_claim = accumulators_event(dependent["member_id"], PLAN, dos.year, "1000.00", "1100.00",
                                         family_id=family_id)
    alone_claim = accumulators_event(alone["member_id"], PLAN, dos.year, "900.00", "900.00")
    # The subscriber's update twice (a redelivery): the family counts it once.
    await publish(running_stack.kafka_bootstrap, "adjudication.events",
                  [subscriber_claim, subscriber_claim, dependent_claim, alone_claim])

    async def family_moved():
        answer = await check(org.client, dependent["member_id"], dos)
        return answer if answer["benefits"]["deductible"]["family"]["met"] == "2200.00" else None

    answer = await eventually(family_moved, timeout=30.0, interval=0.2, what="the family's accumulators")
    assert answer["benefits"]["deductible"] == {
        "amount": "1500.00", "met": "1000.00", "remaining": "500.00",
        "family": {"amount": "3000.00", "met": "2200.00", "remaining": "800.00"}}
    assert answer["benefits"]["out_of_pocket_max"] == {
        "amount": "7500.00", "met": "1100.00", "remaining": "6400.00",
        "family": {"amount": "15000.00", "met": "2400.00", "remaining": "12600.00"}}

    # The family deductible reached meets the subscriber's individual one too.
    await publish(running_stack.kafka_bootstrap, "adjudication.events", [accumulators_event(
        dependent["member_id"], PLAN, dos.year, "900.00", "900.00", family_id=family_id)])

    async def family_met():
        answer = await check(org.client, subscriber["member_id"], dos)
        return answer if answer["benefits"]["deductible"]["family"]["met"] == "3000.00" else None

    answer = await eventually(family_met, timeout=30.0, interval=0.2, what="the family deductible to be met")
    assert answer["benefits"]["deductible"] == {
        "amount": "1500.00", "met": "1200.00", "remaining": "0.00",
        "family": {"amount": "3000.00", "met": "3000.00", "remaining": "0.00"}}

    # An individual policy's answer keeps its shape, whatever families accumulate.
    async def alone_moved():
        answer = await check(org.client, alone["member_id"], dos)
        return answer if answer["benefits"]["deductible"]["met"] == "900.00" else None

    answer = await eventually(alone_moved, timeout=30.0, interval=0.2, what="the individual's accumulators")
    assert answer["benefits"]["deductible"] == {"amount": "1500.00", "met": "900.00", "remaining": "600.00"}
    assert "family" not in answer["benefits"]["out_of_pocket_max"]
