"""Builders shared by the eligibility domain tests."""

from datetime import date

from refdata.plans import load_catalogue
from services.eligibility.domain import (
    CheckRequest,
    Demographics,
    Member,
    MemberEvent,
    apply,
    change_plan,
    enroll,
    replay,
    terminate,
)

# The plans as published (the test tables pin refdata/plans.json):
# id, metal, network, deductible (ind, fam), OOP max (ind, fam), coinsurance,
# (copay, deductible applies) for primary care, specialist, emergency room
# fmt: off
PLANS = [
    ("bronze-epo-2026", "bronze", "EPO", ("7500.00", "15000.00"), ("10000.00", "20000.00"), 40,
     ("50.00", False), (None, True), (None, True)),
    ("bronze-hmo-hsa-2026", "bronze", "HMO", ("6800.00", "13600.00"), ("8500.00", "17000.00"), 30,
     ("40.00", True), ("80.00", True), (None, True)),
    ("silver-hmo-2026", "silver", "HMO", ("4800.00", "9600.00"), ("9000.00", "18000.00"), 30,
     ("35.00", False), ("70.00", False), ("450.00", True)),
    ("silver-epo-2026", "silver", "EPO", ("5500.00", "11000.00"), ("9800.00", "19600.00"), 30,
     ("40.00", False), ("80.00", False), (None, True)),
    ("gold-hmo-2026", "gold", "HMO", ("1500.00", "3000.00"), ("7500.00", "15000.00"), 20,
     ("20.00", False), ("50.00", False), ("350.00", False)),
    ("platinum-epo-2026", "platinum", "EPO", ("0.00", "0.00"), ("3500.00", "7000.00"), 10,
     ("10.00", False), ("30.00", False), ("250.00", False)),
    ("gold-ppo-2026", "gold", "PPO", ("2000.00", "4000.00"), ("8000.00", "16000.00"), 20,
     ("25.00", False), ("60.00", False), ("400.00", False)),
]
# fmt: on

CATALOGUE = load_catalogue()
DOB = date(1984, 7, 19)
PERSON = Demographics(first_name="Ada", last_name="Moreno", date_of_birth=DOB, gender="female")


def enrolled(plan_id: str, start: date, end: date | None = None, member_id: str = "M100") -> Member:
    member = replay(enroll(member_id, PERSON, plan_id, start, end, CATALOGUE))
    assert member is not None
    return member


def applied(member: Member, events: list[MemberEvent]) -> Member:
    for event in events:
        member = apply(member, event)
    return member


def changed(member: Member, plan_id: str, effective: date) -> Member:
    return applied(member, change_plan(member, plan_id, effective, CATALOGUE))


def terminated(member: Member, end: date) -> Member:
    return applied(member, terminate(member, end))


def check(dos: date, *codes: str, member_id: str = "M100", dob: date = DOB) -> CheckRequest:
    return CheckRequest(member_id=member_id, date_of_birth=dob, date_of_service=dos, procedure_codes=codes)
