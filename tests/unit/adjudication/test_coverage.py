"""Adjudication never pays a line for a member it cannot identify or who is not covered
on the line's date of service; the numbers still add up to the charge."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.adjudication.domain.coverage import (
    CoveragePeriod,
    MemberCoverage,
    coverage_denial,
    fold_membership_event,
)
from services.adjudication.domain.ledger import DENIAL_CARCS
from tests.unit.adjudication.engine_support import DOB, decide_claim, line, received


def price_claim(claim, member=None):
    return decide_claim(claim, member)


def member(*periods, dob=DOB):
    return MemberCoverage("M0000000001", dob, tuple(CoveragePeriod("silver-hmo-2026", s, e) for s, e in periods), 1)


AT = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)


SPRING = member((date(2026, 3, 1), date(2026, 5, 31)))
TWO_PERIODS = member((date(2026, 1, 1), date(2026, 2, 28)), (date(2026, 5, 1), None))


@pytest.mark.parametrize(
    ("copy", "dos", "carc"),
    [
        (SPRING, date(2026, 3, 1), None),  # first day covered
        (SPRING, date(2026, 5, 31), None),  # last day covered (inclusive)
        (SPRING, date(2026, 2, 28), "26"),  # before coverage began
        (SPRING, date(2026, 6, 1), "27"),  # after coverage terminated
        (TWO_PERIODS, date(2026, 3, 15), "27"),  # a gap between periods follows a termination
        (TWO_PERIODS, date(2027, 9, 1), None),  # open-ended
        (TWO_PERIODS, date(2025, 12, 31), "26"),
        (None, date(2026, 3, 15), "31"),  # unknown to the copy
        (member((date(2026, 1, 1), None), dob=date(1980, 2, 4)), date(2026, 3, 15), "31"),  # another birth date
    ],
)
def test_coverage_rule(copy, dos, carc):
    assert coverage_denial(copy, date_of_birth=DOB, date_of_service=dos) == carc


def test_every_coverage_carc_is_a_denial():
    assert {"26", "27", "31"} <= DENIAL_CARCS




def test_unknown_member_is_denied_co31_on_every_line_and_paid_nothing():
    decision = price_claim(received(line(1, "99213", "150.00", "2026-03-02"), line(2, "36415", "10.00", "2026-03-02")),
                           member=None)
    assert decision.outcome == "denied"
    assert [(a.group, a.carc, a.amount) for ln in decision.lines for a in ln.adjustments] == [
        ("CO", "31", Decimal("150.00")), ("CO", "31", Decimal("10.00"))]
    assert decision.totals.paid == decision.totals.allowed == decision.totals.patient_responsibility == 0
    assert decision.totals.charge == Decimal("160.00")


def test_birth_date_mismatch_is_not_our_insured():
    decision = price_claim(received(line(1, "99213", "150.00", "2026-03-02"), dob="1980-03-02"), member=SPRING)
    assert decision.outcome == "denied"
    assert decision.lines[0].adjustments[0].carc == "31"


def test_lines_are_judged_by_their_own_date_of_service():
    decision = price_claim(
        received(line(1, "99213", "150.00", "2026-05-31"), line(2, "99213", "150.00", "2026-06-01"),
                 line(3, "36415", "10.00", "2026-02-01")),
        member=SPRING,
    )
    paid, after, before = decision.lines
    assert paid.allowed_amount == Decimal("117.00") and paid.paid_amount > 0
    assert [(a.group, a.carc) for a in after.adjustments] == [("CO", "27")]
    assert [(a.group, a.carc) for a in before.adjustments] == [("CO", "26")]
    assert decision.outcome == "processed"


def test_not_covered_on_any_line_denies_the_claim():
    decision = price_claim(received(line(1, "99213", "150.00", "2026-07-01")), member=SPRING)
    assert decision.outcome == "denied"


@pytest.mark.parametrize("seed", range(100))
def test_the_numbers_add_up_whatever_the_coverage(seed):
    rng = random.Random(seed)
    copy = rng.choice([None, SPRING, TWO_PERIODS, member((date(2026, 1, 1), None), dob=date(1999, 1, 1))])
    lines = [
        line(n, rng.choice(["99213", "36415", "E0601"]), f"{rng.randint(1, 50000) / 100:.2f}",
             (date(2025, 12, 1) + timedelta(days=rng.randint(0, 240))).isoformat())
        for n in range(1, rng.randint(1, 20) + 1)
    ]
    decision = price_claim(received(*lines), member=copy)
    for decided in decision.lines:
        adjusted = sum((a.amount for a in decided.adjustments if a.group in ("CO", "OA")), Decimal("0.00"))
        assert decided.charge_amount == decided.paid_amount + decided.patient_responsibility + adjusted
        assert all(a.amount > 0 for a in decided.adjustments)
    assert decision.totals.charge == decision.totals.paid + decision.totals.patient_responsibility + sum(
        a.amount for d in decision.lines for a in d.adjustments if a.group in ("CO", "OA"))
    denied = [not d.paid_amount and any(a.carc in DENIAL_CARCS for a in d.adjustments) for d in decision.lines]
    assert (decision.outcome == "denied") is all(denied)
    if copy is None:
        assert decision.totals.paid == 0


# The copy, folded from membership.events -------------------------------------------------

ENROLLED = {"member_id": "M0000000001", "first_name": "Ann", "last_name": "Lee", "date_of_birth": "1980-02-03",
            "gender": "female", "plan_id": "silver-hmo-2026", "coverage_start": "2026-01-01", "coverage_end": None}


def fold(*events):
    copy = None
    for version, (event_type, payload) in enumerate(events, start=1):
        copy = fold_membership_event(copy, event_type, payload, version, member_id="M0000000001")
    return copy


def periods(copy):
    return [(p.plan_id, p.start.isoformat(), p.end and p.end.isoformat()) for p in copy.periods]


def test_enrollment_keeps_birth_date_and_coverage_but_no_name():
    copy = fold(("member.enrolled", ENROLLED))
    assert copy.date_of_birth == DOB and copy.version == 1
    assert periods(copy) == [("silver-hmo-2026", "2026-01-01", None)]
    assert "Ann" not in repr(copy) and "Lee" not in repr(copy)


def test_termination_plan_change_and_reenrollment():
    copy = fold(
        ("member.enrolled", ENROLLED),
        ("member.plan_changed", {"member_id": "M0000000001", "previous_plan_id": "silver-hmo-2026",
                                 "previous_coverage_end": "2026-03-31", "plan_id": "gold-hmo-2026",
                                 "effective_date": "2026-04-01", "coverage_end": None}),
        ("member.coverage_terminated", {"member_id": "M0000000001", "plan_id": "gold-hmo-2026",
                                        "coverage_start": "2026-04-01", "coverage_end": "2026-06-30",
                                        "previous_coverage_end": None}),
        ("member.reenrolled", {"member_id": "M0000000001", "plan_id": "silver-hmo-2026",
                               "coverage_start": "2026-09-01", "coverage_end": None}),
    )
    assert periods(copy) == [("silver-hmo-2026", "2026-01-01", "2026-03-31"), ("gold-hmo-2026", "2026-04-01", "2026-06-30"),
                             ("silver-hmo-2026", "2026-09-01", None)]
    assert coverage_denial(copy, date_of_birth=DOB, date_of_service=date(2026, 7, 15)) == "27"
    assert coverage_denial(copy, date_of_birth=DOB, date_of_service=date(2026, 9, 1)) is None


def test_plan_change_on_the_first_day_replaces_the_period():
    copy = fold(("member.enrolled", ENROLLED),
                ("member.plan_changed", {"member_id": "M0000000001", "previous_plan_id": "silver-hmo-2026",
                                         "previous_coverage_end": None, "plan_id": "gold-hmo-2026",
                                         "effective_date": "2026-01-01", "coverage_end": "2026-12-31"}))
    assert periods(copy) == [("gold-hmo-2026", "2026-01-01", "2026-12-31")]


def test_only_an_enrollment_starts_a_copy_and_the_event_gives_the_version():
    assert fold_membership_event(None, "member.reenrolled", {"plan_id": "p", "coverage_start": "2027-01-01"}, 2,
                                 member_id="M0000000001") is None
    copy = fold(("member.enrolled", ENROLLED))
    # Ordering is the projection's (infra/projection.py): the fold takes the version it is given.
    later = fold_membership_event(copy, "member.reenrolled", {"plan_id": "p", "coverage_start": "2027-01-01"}, 5,
                                  member_id="M0000000001")
    assert later.version == 5 and periods(later)[-1] == ("p", "2027-01-01", None)
