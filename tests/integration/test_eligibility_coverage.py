"""Eligibility acceptance: coverage boundaries, plan changes, and who is not found."""

import random

from tests.support.eligibility import DOB, PLANS, check, days, today


def assert_inactive(answer: dict) -> None:
    assert answer["status"] == "inactive", answer
    assert answer["benefits"] is None, answer
    for line in answer["services"]:
        assert line["covered"] is False, line


async def test_coverage_is_active_from_its_start_day_through_its_termination_day(platform, operator, org):
    start = today() - days(200)
    end = today() - days(40)
    member = await platform.new_member(plan_id="silver-hmo-2026", coverage_start=start.isoformat())
    member_id = member["member_id"]

    before = await check(org.client, member_id, start - days(1), codes=["99213"])
    assert_inactive(before)
    on_start = await check(org.client, member_id, start, codes=["99213"])
    assert on_start["status"] == "active"
    assert on_start["plan"]["id"] == "silver-hmo-2026"
    assert on_start["coverage"] == {"start": start.isoformat(), "end": None}
    assert on_start["benefits"] is not None

    terminated = await operator.post(f"/v1/admin/members/{member_id}/termination",
                                     json={"coverage_end": end.isoformat()})
    assert terminated.status_code == 200, terminated.text

    on_end = await check(org.client, member_id, end)
    assert on_end["status"] == "active"
    assert on_end["coverage"] == {"start": start.isoformat(), "end": end.isoformat()}
    after = await check(org.client, member_id, end + days(1), codes=["99213"])
    assert_inactive(after)
    assert service_reason(after, "99213") == "coverage_inactive"
    # Later days stay inactive; days before the termination date stay active.
    assert (await check(org.client, member_id, today()))["status"] == "inactive"
    assert (await check(org.client, member_id, end - days(30)))["status"] == "active"


async def test_coverage_end_given_at_enrollment_is_the_last_active_day(platform, org):
    start, end = today() - days(100), today() - days(10)
    member = await platform.new_member(plan_id="gold-hmo-2026", coverage_start=start.isoformat(),
                                       coverage_end=end.isoformat())
    assert (await check(org.client, member["member_id"], start))["status"] == "active"
    assert (await check(org.client, member["member_id"], end))["status"] == "active"
    assert_inactive(await check(org.client, member["member_id"], end + days(1)))
    assert_inactive(await check(org.client, member["member_id"], start - days(1)))


async def test_a_plan_change_applies_from_its_effective_date(platform, operator, org):
    start = today() - days(150)
    effective = today() - days(45)
    member = await platform.new_member(plan_id="silver-hmo-2026", coverage_start=start.isoformat())
    member_id = member["member_id"]
    changed = await operator.post(f"/v1/admin/members/{member_id}/plan-changes",
                                  json={"plan_id": "gold-hmo-2026", "effective_date": effective.isoformat()})
    assert changed.status_code == 200, changed.text

    old = await check(org.client, member_id, effective - days(1), codes=["99213"])
    new = await check(org.client, member_id, effective, codes=["99213"])
    assert old["status"] == new["status"] == "active"

    assert old["plan"]["id"] == "silver-hmo-2026"
    assert old["coverage"] == {"start": start.isoformat(), "end": (effective - days(1)).isoformat()}
    silver = PLANS["silver-hmo-2026"]
    assert old["benefits"]["deductible"]["amount"] == silver["deductible"]["individual"]
    assert old["benefits"]["copays"]["primary_care"] == silver["cost_sharing"]["primary_care"]["copay"]

    assert new["plan"]["id"] == "gold-hmo-2026"
    assert new["coverage"] == {"start": effective.isoformat(), "end": None}
    gold = PLANS["gold-hmo-2026"]
    assert new["benefits"]["deductible"]["amount"] == gold["deductible"]["individual"]
    assert new["benefits"]["out_of_pocket_max"]["amount"] == gold["out_of_pocket_max"]["individual"]
    assert new["benefits"]["coinsurance_percent"] == gold["coinsurance_percent"]
    assert new["benefits"]["copays"]["primary_care"] == gold["cost_sharing"]["primary_care"]["copay"]
    # A long-standing start day is still answered on the plan of that day.
    assert (await check(org.client, member_id, start))["plan"]["id"] == "silver-hmo-2026"


async def test_wrong_birth_date_and_unknown_member_look_alike(platform, org):
    member = await platform.new_member(plan_id="silver-hmo-2026", dob=DOB,
                                       coverage_start=(today() - days(60)).isoformat())
    dos = today() - days(1)
    codes = ["99213", "99284"]
    assert (await check(org.client, member["member_id"], dos, codes=codes))["status"] == "active"

    wrong_dob = await check(org.client, member["member_id"], dos, dob="1980-02-04", codes=codes)
    unknown_id = "M" + str(random.randrange(10**10)).zfill(10)
    unknown = await check(org.client, unknown_id, dos, codes=codes)

    for answer in (wrong_dob, unknown):
        assert answer["status"] == "not_found", answer
        assert answer.get("plan") is None and answer.get("benefits") is None, answer
        assert answer.get("coverage") is None, answer

    def shape(answer: dict) -> dict:
        return {k: v for k, v in answer.items() if k not in ("check_id", "checked_at", "expires_at")}

    assert shape(wrong_dob) == shape(unknown)


def service_reason(answer: dict, code: str) -> str | None:
    line = next(s for s in answer["services"] if s["procedure_code"] == code)
    return (line.get("reason") or {}).get("code")


async def test_enrollment_is_idempotent_by_key_and_refuses_another_body_under_it(operator):
    import uuid as _uuid

    key = {"Idempotency-Key": f"enroll-{_uuid.uuid4()}"}
    body = {"first_name": "Idem", "last_name": "Potent", "date_of_birth": "1975-05-05", "gender": "female",
            "plan_id": "silver-hmo-2026", "coverage_start": "2026-01-01"}
    first = await operator.post("/v1/admin/members", json=body, headers=key)
    again = await operator.post("/v1/admin/members", json=body, headers=key)
    other = await operator.post("/v1/admin/members", json={**body, "last_name": "Other"}, headers=key)
    assert first.status_code == 201 and again.status_code == 201, (first.text, again.text)
    assert again.json()["member_id"] == first.json()["member_id"]
    assert again.headers.get("idempotent-replayed") == "true" and "idempotent-replayed" not in first.headers
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"
