"""Out-of-network answers on a PPO plan: covered where the plan lists the category, at its out-of-network coinsurance."""

import copy
import json
from datetime import date

import pytest

from refdata.plans import PLANS_FILE, PROCEDURE_CODES_FILE, parse_catalogue
from services.eligibility.domain import evaluate, replay, enroll

from .support import PERSON, check

DOS = date(2026, 5, 14)
IMAGING, SPECIALIST, PCP, ER, LAB = "71046", "99243", "99213", "99284", "36415"
PLAN = "bronze-ppo-2026"


def _catalogue():
    plans = json.loads(PLANS_FILE.read_text(encoding="utf-8"))
    # bronze-epo-2026 with an open network: no copay for specialists, imaging or the ER
    # (coinsurance 40 %), a 50.00 primary care copay.
    ppo = copy.deepcopy(next(p for p in plans["plans"] if p["id"] == "bronze-epo-2026"))
    ppo.update(id=PLAN, name="Bronze PPO 2026", network_type="PPO",
               out_of_network={"covered_categories": ["emergency_room", "imaging", "primary_care", "specialist"],
                               "coinsurance_percent": 60})
    plans["plans"].append(ppo)
    return parse_catalogue(plans, json.loads(PROCEDURE_CODES_FILE.read_text(encoding="utf-8")))


CATALOGUE = _catalogue()


def _services(plan_id, contracted):
    member = replay(enroll("M100", PERSON, plan_id, date(2026, 1, 1), None, CATALOGUE))
    result = evaluate(check(DOS, IMAGING, SPECIALIST, PCP, ER, LAB), member, [], CATALOGUE, contracted)
    return {s.procedure_code: s for s in result.services}


def test_out_of_network_on_a_ppo_covers_the_listed_categories_at_its_coinsurance():
    out = _services(PLAN, frozenset())
    for code in (IMAGING, SPECIALIST):
        assert (out[code].covered, out[code].in_network, out[code].coinsurance_percent) == (True, False, 60), code
        assert out[code].copay is None and out[code].reason is None
    # A copay category keeps its copay (no coinsurance with a copay).
    assert (out[PCP].covered, str(out[PCP].copay), out[PCP].coinsurance_percent) == (True, "50.00", 0)
    assert out[LAB].covered is False and out[LAB].reason.code == "out_of_network"
    assert "PPO" in out[LAB].reason.message


def test_emergency_care_out_of_network_keeps_in_network_cost_sharing_on_a_ppo():
    er = _services(PLAN, frozenset())[ER]
    assert (er.covered, er.in_network, er.coinsurance_percent) == (True, False, 40)


def test_in_network_on_a_ppo_is_the_plans_own_cost_sharing():
    inside = _services(PLAN, frozenset({PLAN}))
    assert all(s.covered and s.in_network for s in inside.values())
    assert (inside[IMAGING].coinsurance_percent, inside[LAB].coinsurance_percent) == (40, 40)


@pytest.mark.parametrize("contracted,expected", [
    (frozenset(), {IMAGING: False, SPECIALIST: False, PCP: False, ER: True, LAB: False}),
    (frozenset({"bronze-epo-2026"}), {IMAGING: True, SPECIALIST: True, PCP: True, ER: True, LAB: True}),
])
def test_an_epo_still_covers_only_emergencies_out_of_network(contracted, expected):
    services = _services("bronze-epo-2026", contracted)
    assert {code: s.covered for code, s in services.items()} == expected
    assert services[ER].coinsurance_percent == 40
