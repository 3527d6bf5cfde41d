"""Eligibility acceptance: benefits per seeded plan, prior authorization, in/out of network.

Expected values come from refdata/plans.json read as plain JSON (tests.support.eligibility),
not from the service's catalogue code.
"""

import json

import pytest

from tests.support.eligibility import DOB, PLANS, REPO, VISITS, check, days, service, set_contract, today
from tests.support.waiting import eventually

PROCEDURE_CATEGORIES = {
    c["code"]: c["category"]
    for c in json.loads((REPO / "refdata" / "procedure_codes.json").read_text(encoding="utf-8"))["codes"]
}


async def test_the_catalogue_serves_every_seeded_plan_as_the_plan_data_says(operator):
    response = await operator.get("/v1/plans")
    assert response.status_code == 200, response.text
    served = {plan["id"]: plan for plan in response.json()["plans"]}
    assert set(served) == set(PLANS)
    for plan_id, expected in PLANS.items():
        plan = served[plan_id]
        assert plan["network_type"] == expected["network_type"], plan_id
        assert plan["metal_level"] == expected["metal_level"], plan_id
        assert plan["deductible"] == expected["deductible"], plan_id
        assert plan["out_of_pocket_max"] == expected["out_of_pocket_max"], plan_id
        assert plan["coinsurance_percent"] == expected["coinsurance_percent"], plan_id
        assert plan["cost_sharing"] == expected["cost_sharing"], plan_id
        assert sorted(plan["prior_authorization_codes"]) == sorted(expected["prior_authorization_codes"]), plan_id


@pytest.mark.parametrize("plan_id", sorted(PLANS))
async def test_a_check_reports_the_plans_benefits_exactly(platform, operator, org, plan_id):
    expected = PLANS[plan_id]
    start = today() - days(90)
    member = await platform.new_member(plan_id=plan_id, dob=DOB, coverage_start=start.isoformat())
    await set_contract(operator, org.organization_id, [plan_id])

    answer = await check(org.client, member["member_id"], today() - days(3), codes=list(VISITS),
                         provider_npi=org.npis[0])

    assert answer["status"] == "active"
    assert answer["plan"]["id"] == plan_id
    assert answer["plan"]["name"] == expected["name"]
    assert answer["plan"]["network_type"] == expected["network_type"]
    assert answer["coverage"] == {"start": start.isoformat(), "end": None}

    benefits = answer["benefits"]
    deductible = expected["deductible"]["individual"]
    oop_max = expected["out_of_pocket_max"]["individual"]
    assert benefits["deductible"] == {"amount": deductible, "met": "0.00", "remaining": deductible}
    assert benefits["out_of_pocket_max"] == {"amount": oop_max, "met": "0.00", "remaining": oop_max}
    assert benefits["coinsurance_percent"] == expected["coinsurance_percent"]

    for code, category in VISITS.items():
        sharing = expected["cost_sharing"][category]
        assert benefits["copays"][category] == sharing["copay"], (plan_id, category)

        line = service(answer, code)
        assert line["known"] is True and line["category"] == category, line
        assert line["covered"] is True and line["in_network"] is True, line
        assert line["copay"] == sharing["copay"], (plan_id, code, line)
        # A copay replaces coinsurance; no copay means deductible, then the plan's coinsurance.
        want_coinsurance = 0 if sharing["copay"] is not None else expected["coinsurance_percent"]
        assert line["coinsurance_percent"] == want_coinsurance, (plan_id, code, line)
        assert line["deductible_applies"] == (sharing["deductible_applies"] and deductible != "0.00"), line
        assert line["prior_authorization_required"] is (code in expected["prior_authorization_codes"]), line


@pytest.mark.parametrize("plan_id", sorted(PLANS))
async def test_prior_authorization_flags_and_network_status_follow_the_plan(platform, operator, org, plan_id):
    expected = PLANS[plan_id]
    needs_auth = sorted(expected["prior_authorization_codes"])[0]
    no_auth = "99213"
    emergency = "99284"
    assert no_auth not in expected["prior_authorization_codes"]
    codes = [needs_auth, no_auth, emergency]

    member = await platform.new_member(plan_id=plan_id, coverage_start=(today() - days(60)).isoformat())
    await set_contract(operator, org.organization_id, [plan_id])
    outsider = await platform.new_organization(in_network_for=[])  # no network contract at all
    try:
        dos = today() - days(1)
        inside = await check(org.client, member["member_id"], dos, codes=codes)
        outside = await check(outsider.client, member["member_id"], dos, codes=codes)
    finally:
        await outsider.client.aclose()

    assert inside["status"] == outside["status"] == "active"
    for code in codes:
        line = service(inside, code)
        assert line["in_network"] is True, line
        assert line["covered"] is True, line
        assert line["prior_authorization_required"] is (code == needs_auth), line

    out_of_network = expected["out_of_network"]
    out_covered = set(out_of_network["covered_categories"])
    assert expected["network_type"] in ("HMO", "EPO", "PPO")
    for code in codes:
        line = service(outside, code)
        category = PROCEDURE_CATEGORIES[code]
        assert line["in_network"] is False, line
        assert line["covered"] is (category in out_covered), (plan_id, code, line)
        if not line["covered"]:
            assert line["reason"]["code"] == "out_of_network", line
            assert line["copay"] is None and line["coinsurance_percent"] is None, line
        elif expected["network_type"] == "PPO" and category != "emergency_room":
            # Out of network where a PPO covers it: its out-of-network coinsurance (none with a copay).
            sharing = expected["cost_sharing"][category]
            oon = out_of_network.get("coinsurance_percent")
            coinsurance = expected["coinsurance_percent"] if oon is None else oon
            assert line["coinsurance_percent"] == (0 if sharing["copay"] is not None else coinsurance), line

    # Emergency care out of network is covered at in-network cost sharing.
    er_in, er_out = service(inside, emergency), service(outside, emergency)
    assert er_out["covered"] is True
    assert (er_out["copay"], er_out["coinsurance_percent"]) == (er_in["copay"], er_in["coinsurance_percent"])
    # The benefit summary does not depend on who asks.
    assert inside["benefits"] == outside["benefits"]


async def test_a_contract_for_other_plans_is_not_in_network_for_this_one(platform, operator, org):
    member = await platform.new_member(plan_id="gold-hmo-2026", coverage_start=(today() - days(30)).isoformat())
    await set_contract(operator, org.organization_id, [p for p in PLANS if p != "gold-hmo-2026"])
    answer = await check(org.client, member["member_id"], today() - days(1), codes=["99213", "99284"])
    assert service(answer, "99213")["in_network"] is False
    assert service(answer, "99213")["covered"] is False
    assert service(answer, "99284")["covered"] is True

    # A changed contract applies to the next checks (contracts may be cached for a few seconds).
    await set_contract(operator, org.organization_id, ["gold-hmo-2026"])

    async def in_network():
        answer = await check(org.client, member["member_id"], today() - days(1), codes=["99213"])
        return answer if service(answer, "99213")["in_network"] else None

    answer = await eventually(in_network, timeout=15.0, interval=0.5, what="the new contract to apply")
    assert service(answer, "99213")["covered"] is True
