"""Eligibility acceptance: accumulators.applied events on adjudication.events move met / remaining."""

import copy
from datetime import date
from decimal import Decimal

from tests.support.eligibility import PLANS, accumulators_event, check, days, publish, today
from tests.support.waiting import eventually

TOPIC = "adjudication.events"
PLAN = "silver-hmo-2026"


def money(value: Decimal) -> str:
    return f"{value:.2f}"


async def wait_for_accumulators(client, member_id: str, dos: date, deductible_met: str, oop_met: str) -> dict:
    async def probe():
        answer = await check(client, member_id, dos)
        benefits = answer["benefits"]
        if benefits["deductible"]["met"] == deductible_met and benefits["out_of_pocket_max"]["met"] == oop_met:
            return answer
        return None

    return await eventually(probe, timeout=30.0, interval=0.2,
                            what=f"deductible met {deductible_met} and out-of-pocket met {oop_met} for {member_id}")


def assert_accumulated(answer: dict, deductible_met: Decimal, oop_met: Decimal) -> None:
    plan = PLANS[PLAN]
    deductible = Decimal(plan["deductible"]["individual"])
    oop_max = Decimal(plan["out_of_pocket_max"]["individual"])
    benefits = answer["benefits"]
    assert benefits["deductible"] == {"amount": money(deductible), "met": money(deductible_met),
                                      "remaining": money(deductible - deductible_met)}
    assert benefits["out_of_pocket_max"] == {"amount": money(oop_max), "met": money(oop_met),
                                             "remaining": money(oop_max - oop_met)}


async def test_applied_accumulators_show_as_met_and_remaining(platform, running_stack, org):
    dos = today() - days(2)
    member = await platform.new_member(plan_id=PLAN, coverage_start=date(dos.year - 1, 1, 1).isoformat())
    member_id = member["member_id"]
    fresh = await check(org.client, member_id, dos)
    assert_accumulated(fresh, Decimal("0.00"), Decimal("0.00"))

    first = accumulators_event(member_id, PLAN, dos.year, "300.00", "450.00")
    await publish(running_stack.kafka_bootstrap, TOPIC, [first])
    answer = await wait_for_accumulators(org.client, member_id, dos, "300.00", "450.00")
    assert_accumulated(answer, Decimal("300.00"), Decimal("450.00"))

    # The same event again (a redelivery), then the same adjudication under a new envelope
    # id, then a genuinely new one: only the last may add to the totals. All are keyed by
    # member id, so they are consumed in this order and the third proves the first two were seen.
    redelivered = copy.deepcopy(first)
    same_adjudication = copy.deepcopy(first) | {"id": "another-envelope-id"}
    second = accumulators_event(member_id, PLAN, dos.year, "125.50", "140.25")
    await publish(running_stack.kafka_bootstrap, TOPIC, [redelivered, same_adjudication, second])
    answer = await wait_for_accumulators(org.client, member_id, dos, "425.50", "590.25")
    assert_accumulated(answer, Decimal("425.50"), Decimal("590.25"))

    # Another benefit year's accumulators do not count for this date of service, and do for theirs.
    last_year = date(dos.year - 1, 12, 15)
    previous = accumulators_event(member_id, PLAN, last_year.year, "1000.00", "1000.00")
    await publish(running_stack.kafka_bootstrap, TOPIC, [previous])
    answer = await wait_for_accumulators(org.client, member_id, last_year, "1000.00", "1000.00")
    assert_accumulated(answer, Decimal("1000.00"), Decimal("1000.00"))
    assert_accumulated(await check(org.client, member_id, dos), Decimal("425.50"), Decimal("590.25"))


async def test_met_is_capped_at_the_plan_amount(platform, running_stack, org):
    dos = today() - days(1)
    member = await platform.new_member(plan_id=PLAN, coverage_start=(dos - days(30)).isoformat())
    member_id = member["member_id"]
    plan = PLANS[PLAN]
    deductible = plan["deductible"]["individual"]
    over = money(Decimal(deductible) + Decimal("100.00"))
    await publish(running_stack.kafka_bootstrap, TOPIC,
                  [accumulators_event(member_id, PLAN, dos.year, over, over)])
    answer = await wait_for_accumulators(org.client, member_id, dos, deductible, over)
    assert answer["benefits"]["deductible"]["remaining"] == "0.00"
    assert_accumulated(answer, Decimal(deductible), Decimal(over))
