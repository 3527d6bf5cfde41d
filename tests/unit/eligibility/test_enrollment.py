from datetime import date

import pytest

from services.eligibility.domain import (
    CoverageSegment,
    CoverageTerminated,
    DomainError,
    InvalidEventSequence,
    MemberEnrolled,
    MemberReenrolled,
    PlanChanged,
    apply,
    change_plan,
    enroll,
    event_from_payload,
    reenroll,
    replay,
    terminate,
)

from .support import CATALOGUE, DOB, PERSON, applied, changed, enrolled, terminated

JAN1, DEC31 = date(2026, 1, 1), date(2026, 12, 31)


def _refused(code, command, *args):
    with pytest.raises(DomainError) as raised:
        command(*args)
    assert raised.value.code == code
    assert raised.value.message
    return raised.value


# enroll


def test_enroll_emits_member_enrolled_and_builds_version_one():
    events = enroll("M1", PERSON, "silver-hmo-2026", date(2026, 2, 1), date(2026, 8, 31), CATALOGUE)
    assert events == [
        MemberEnrolled(
            member_id="M1",
            first_name="Ada",
            last_name="Moreno",
            date_of_birth=DOB,
            gender="female",
            plan_id="silver-hmo-2026",
            coverage_start=date(2026, 2, 1),
            coverage_end=date(2026, 8, 31),
        )
    ]
    member = replay(events)
    assert member.version == 1
    assert member.segments == (
        CoverageSegment(plan_id="silver-hmo-2026", start=date(2026, 2, 1), end=date(2026, 8, 31)),
    )


def test_enrollment_without_an_end_is_open_ended():
    member = enrolled("gold-hmo-2026", date(2026, 3, 1))
    assert member.current_segment == CoverageSegment(plan_id="gold-hmo-2026", start=date(2026, 3, 1), end=None)
    assert member.coverage_on(date(2026, 12, 31)) is not None
    assert member.coverage_on(date(2030, 6, 15)).plan_id == "gold-hmo-2026"  # not cut at any plan year's end
    assert member.coverage_on(date(2026, 2, 28)) is None


def test_coverage_may_span_calendar_years():
    member = enrolled("gold-hmo-2026", date(2025, 1, 1), date(2027, 6, 30))
    assert member.segments == (CoverageSegment(plan_id="gold-hmo-2026", start=date(2025, 1, 1), end=date(2027, 6, 30)),)
    for day in (date(2025, 1, 1), date(2025, 12, 31), date(2026, 7, 4), date(2027, 6, 30)):
        assert member.coverage_on(day).plan_id == "gold-hmo-2026"
    assert member.coverage_on(date(2024, 12, 31)) is None
    assert member.coverage_on(date(2027, 7, 1)) is None


@pytest.mark.parametrize(
    "start,end",
    [
        (date(2025, 1, 1), None),  # before the plan's design year, open-ended
        (date(2025, 12, 1), date(2026, 1, 31)),  # across a year boundary
        (JAN1, date(2027, 6, 30)),  # past the design year's end
        (date(2031, 3, 1), date(2031, 3, 1)),  # a single day, years later
    ],
)
def test_enroll_accepts_any_dates_whatever_the_plans_design_year(start, end):
    (event,) = enroll("M1", PERSON, "gold-hmo-2026", start, end, CATALOGUE)
    assert (event.coverage_start, event.coverage_end) == (start, end)


@pytest.mark.parametrize(
    "code,plan_id,start,end",
    [
        ("unknown_plan", "diamond-ppo-2026", JAN1, None),
        ("coverage_end_before_start", "gold-hmo-2026", date(2026, 5, 1), date(2026, 4, 30)),
        ("coverage_end_before_start", "gold-hmo-2026", date(2027, 1, 1), date(2026, 12, 31)),
    ],
)
def test_enroll_refuses(code, plan_id, start, end):
    _refused(code, enroll, "M1", PERSON, plan_id, start, end, CATALOGUE)


def test_enroll_refuses_coverage_before_birth():
    newborn = PERSON.model_copy(update={"date_of_birth": date(2026, 5, 10)})
    _refused("coverage_start_before_birth", enroll, "M1", newborn, "gold-hmo-2026", date(2026, 5, 1), None, CATALOGUE)
    assert enroll("M1", newborn, "gold-hmo-2026", date(2026, 5, 10), None, CATALOGUE)  # from birth is fine


def test_enrolled_cannot_apply_to_an_existing_member():
    member = enrolled("gold-hmo-2026", JAN1)
    with pytest.raises(InvalidEventSequence):
        apply(member, enroll("M100", PERSON, "gold-hmo-2026", JAN1, None, CATALOGUE)[0])


# terminate


def test_terminate_ends_the_current_period():
    member = enrolled("gold-hmo-2026", JAN1)
    events = terminate(member, date(2026, 6, 30))
    assert events == [
        CoverageTerminated(
            member_id="M100",
            plan_id="gold-hmo-2026",
            coverage_start=JAN1,
            coverage_end=date(2026, 6, 30),
            previous_coverage_end=None,  # it was open-ended
        )
    ]
    member = applied(member, events)
    assert member.current_segment.end == date(2026, 6, 30)
    assert member.version == 2


def test_terminate_open_ended_coverage_years_later():
    member = terminated(enrolled("gold-hmo-2026", date(2025, 1, 1)), date(2029, 3, 31))
    assert member.segments == (CoverageSegment(plan_id="gold-hmo-2026", start=date(2025, 1, 1), end=date(2029, 3, 31)),)
    assert member.coverage_on(date(2029, 3, 31)) is not None
    assert member.coverage_on(date(2029, 4, 1)) is None


def test_terminate_on_the_start_day_leaves_one_day_of_coverage():
    member = terminated(enrolled("gold-hmo-2026", date(2026, 3, 1)), date(2026, 3, 1))
    assert member.coverage_on(date(2026, 3, 1)) is not None
    assert member.coverage_on(date(2026, 3, 2)) is None


def test_terminate_can_be_retroactive_and_repeated():
    member = terminated(enrolled("gold-hmo-2026", JAN1), date(2026, 9, 30))
    member = terminated(member, date(2026, 4, 30))
    assert member.current_segment.end == date(2026, 4, 30)


def test_terminate_again_on_the_same_day_changes_nothing():
    member = terminated(enrolled("gold-hmo-2026", JAN1), date(2026, 9, 30))
    assert terminate(member, date(2026, 9, 30)) == []


def test_terminate_cannot_end_before_the_start():
    member = enrolled("gold-hmo-2026", date(2026, 3, 1))
    _refused("coverage_end_before_start", terminate, member, date(2026, 2, 28))


def test_terminate_cannot_extend_coverage():
    member = terminated(enrolled("gold-hmo-2026", JAN1), date(2026, 6, 30))
    _refused("coverage_end_after_current_end", terminate, member, date(2026, 7, 31))


def test_terminate_after_a_plan_change_cannot_reach_back_into_the_old_plan():
    member = changed(enrolled("silver-hmo-2026", JAN1), "gold-hmo-2026", date(2026, 4, 1))
    _refused("coverage_end_before_start", terminate, member, date(2026, 3, 15))


# change_plan


def test_change_plan_ends_the_old_period_the_day_before():
    member = enrolled("silver-hmo-2026", JAN1)
    events = change_plan(member, "gold-hmo-2026", date(2026, 4, 1), CATALOGUE)
    assert events == [
        PlanChanged(
            member_id="M100",
            previous_plan_id="silver-hmo-2026",
            previous_coverage_end=date(2026, 3, 31),
            plan_id="gold-hmo-2026",
            effective_date=date(2026, 4, 1),
            coverage_end=None,  # the open-ended period stays open-ended
        )
    ]
    member = applied(member, events)
    assert member.segments == (
        CoverageSegment(plan_id="silver-hmo-2026", start=JAN1, end=date(2026, 3, 31)),
        CoverageSegment(plan_id="gold-hmo-2026", start=date(2026, 4, 1), end=None),
    )
    assert member.coverage_on(date(2026, 3, 31)).plan_id == "silver-hmo-2026"
    assert member.coverage_on(date(2026, 4, 1)).plan_id == "gold-hmo-2026"


def test_change_plan_on_the_start_day_replaces_the_plan():
    member = changed(enrolled("silver-hmo-2026", date(2026, 2, 1)), "gold-hmo-2026", date(2026, 2, 1))
    assert member.segments == (CoverageSegment(plan_id="gold-hmo-2026", start=date(2026, 2, 1), end=None),)


def test_change_plan_on_the_start_day_keeps_a_fixed_end():
    member = enrolled("silver-hmo-2026", date(2026, 2, 1), date(2027, 1, 31))
    member = changed(member, "gold-hmo-2026", date(2026, 2, 1))
    assert member.segments == (
        CoverageSegment(plan_id="gold-hmo-2026", start=date(2026, 2, 1), end=date(2027, 1, 31)),
    )


def test_change_plan_keeps_a_pending_termination():
    member = terminated(enrolled("silver-hmo-2026", JAN1), date(2026, 9, 30))
    member = changed(member, "gold-hmo-2026", date(2026, 6, 1))
    assert member.current_segment == CoverageSegment(
        plan_id="gold-hmo-2026", start=date(2026, 6, 1), end=date(2026, 9, 30)
    )


def test_change_plan_across_a_year_boundary():
    member = enrolled("silver-hmo-2026", date(2025, 3, 1))
    events = change_plan(member, "gold-hmo-2026", date(2026, 1, 1), CATALOGUE)
    assert [(e.previous_coverage_end, e.effective_date, e.coverage_end) for e in events] == [
        (date(2025, 12, 31), date(2026, 1, 1), None)
    ]
    member = applied(member, events)
    assert member.segments == (
        CoverageSegment(plan_id="silver-hmo-2026", start=date(2025, 3, 1), end=date(2025, 12, 31)),
        CoverageSegment(plan_id="gold-hmo-2026", start=date(2026, 1, 1), end=None),
    )
    assert member.coverage_on(date(2025, 12, 31)).plan_id == "silver-hmo-2026"
    assert member.coverage_on(date(2030, 1, 1)).plan_id == "gold-hmo-2026"


def test_change_plan_keeps_a_pending_termination_in_a_later_year():
    member = terminated(enrolled("silver-hmo-2026", date(2025, 3, 1)), date(2027, 6, 30))
    member = changed(member, "gold-hmo-2026", date(2026, 1, 1))
    assert member.current_segment == CoverageSegment(
        plan_id="gold-hmo-2026", start=date(2026, 1, 1), end=date(2027, 6, 30)
    )


def test_change_plan_the_day_after_coverage_ended_continues_it_open_ended():
    member = terminated(enrolled("silver-hmo-2026", JAN1), date(2026, 5, 31))
    events = change_plan(member, "gold-hmo-2026", date(2026, 6, 1), CATALOGUE)
    assert events[0].previous_coverage_end == date(2026, 5, 31)  # the ended period is left as it was
    member = applied(member, events)
    assert [(s.plan_id, s.start, s.end) for s in member.segments] == [
        ("silver-hmo-2026", JAN1, date(2026, 5, 31)),
        ("gold-hmo-2026", date(2026, 6, 1), None),
    ]


@pytest.mark.parametrize(
    "code,plan_id,effective",
    [
        ("effective_date_before_coverage_start", "gold-hmo-2026", date(2026, 2, 28)),
        ("plan_unchanged", "silver-hmo-2026", date(2026, 6, 1)),
        ("unknown_plan", "diamond-ppo-2026", date(2026, 6, 1)),
        ("no_coverage_to_change", "gold-hmo-2026", date(2026, 8, 2)),
        ("no_coverage_to_change", "gold-hmo-2026", date(2027, 1, 1)),
    ],
)
def test_change_plan_refuses(code, plan_id, effective):
    member = terminated(enrolled("silver-hmo-2026", date(2026, 3, 1)), date(2026, 7, 31))
    _refused(code, change_plan, member, plan_id, effective, CATALOGUE)


# reenroll


def test_reenroll_after_a_gap_adds_a_period():
    member = terminated(enrolled("silver-hmo-2026", JAN1), date(2026, 3, 31))
    events = reenroll(member, "bronze-epo-2026", date(2026, 7, 1), None, CATALOGUE)
    assert events == [
        MemberReenrolled(
            member_id="M100", plan_id="bronze-epo-2026", coverage_start=date(2026, 7, 1), coverage_end=None
        )
    ]
    member = applied(member, events)
    assert member.coverage_on(date(2026, 5, 1)) is None
    assert member.coverage_on(date(2026, 7, 1)).plan_id == "bronze-epo-2026"
    assert member.coverage_on(date(2028, 7, 1)).plan_id == "bronze-epo-2026"


def test_reenroll_in_a_later_year_for_a_multi_year_period():
    member = terminated(enrolled("silver-hmo-2026", date(2025, 1, 1)), date(2025, 6, 30))
    member = applied(member, reenroll(member, "gold-hmo-2026", date(2027, 2, 1), date(2028, 1, 31), CATALOGUE))
    assert member.segments[-1] == CoverageSegment(
        plan_id="gold-hmo-2026", start=date(2027, 2, 1), end=date(2028, 1, 31)
    )
    assert member.coverage_on(date(2026, 6, 1)) is None


def test_reenroll_cannot_overlap_current_coverage():
    member = terminated(enrolled("silver-hmo-2026", JAN1), date(2026, 3, 31))
    _refused("coverage_overlaps", reenroll, member, "bronze-epo-2026", date(2026, 3, 31), None, CATALOGUE)


def test_reenroll_cannot_follow_open_ended_coverage():
    member = enrolled("silver-hmo-2026", JAN1)
    _refused("coverage_overlaps", reenroll, member, "bronze-epo-2026", date(2029, 1, 1), None, CATALOGUE)


def test_reenroll_refuses_an_end_before_its_start():
    member = terminated(enrolled("silver-hmo-2026", JAN1), date(2026, 3, 31))
    start, end = date(2027, 1, 1), date(2026, 12, 31)
    _refused("coverage_end_before_start", reenroll, member, "bronze-epo-2026", start, end, CATALOGUE)


# rebuilding from the stream


def test_state_rebuilds_from_stored_payloads():
    member = enrolled("silver-hmo-2026", date(2025, 1, 1))
    history = enroll("M100", PERSON, "silver-hmo-2026", date(2025, 1, 1), None, CATALOGUE)
    for command in (
        lambda m: change_plan(m, "gold-hmo-2026", date(2026, 4, 1), CATALOGUE),
        lambda m: terminate(m, date(2027, 6, 30)),
        lambda m: reenroll(m, "platinum-epo-2026", date(2028, 9, 1), None, CATALOGUE),
    ):
        events = command(member)
        member = applied(member, events)
        history += events
    stored = [(event.type, event.payload()) for event in history]
    assert replay(event_from_payload(type_, payload) for type_, payload in stored) == member
    assert member.version == 4
    assert [(s.plan_id, s.start, s.end) for s in member.segments] == [
        ("silver-hmo-2026", date(2025, 1, 1), date(2026, 3, 31)),
        ("gold-hmo-2026", date(2026, 4, 1), date(2027, 6, 30)),
        ("platinum-epo-2026", date(2028, 9, 1), None),
    ]
    assert [t for t, _ in stored] == [
        "member.enrolled",
        "member.plan_changed",
        "member.coverage_terminated",
        "member.reenrolled",
    ]


def test_payloads_are_plain_json():
    payload = enroll("M1", PERSON, "gold-hmo-2026", JAN1, None, CATALOGUE)[0].payload()
    assert payload == {
        "member_id": "M1",
        "first_name": "Ada",
        "last_name": "Moreno",
        "date_of_birth": "1984-07-19",
        "gender": "female",
        "plan_id": "gold-hmo-2026",
        "coverage_start": "2026-01-01",
        "coverage_end": None,
        "coverage_tier": "individual",
        "subscriber_member_id": None,
    }


def test_payloads_stored_with_a_fixed_end_or_without_one_still_load():
    base = {"member_id": "M1", "plan_id": "gold-hmo-2026", "coverage_start": "2026-01-01"}
    fixed = event_from_payload("member.reenrolled", {**base, "coverage_end": "2026-12-31"})
    assert fixed.coverage_end == DEC31
    assert event_from_payload("member.reenrolled", base).coverage_end is None
    changed_ = {
        "member_id": "M1",
        "previous_plan_id": "silver-hmo-2026",
        "previous_coverage_end": "2026-03-31",
        "plan_id": "gold-hmo-2026",
        "effective_date": "2026-04-01",
        "coverage_end": None,
    }
    assert event_from_payload("member.plan_changed", changed_).coverage_end is None


def test_termination_still_requires_an_end():
    with pytest.raises(ValueError):
        event_from_payload(
            "member.coverage_terminated",
            {
                "member_id": "M1",
                "plan_id": "gold-hmo-2026",
                "coverage_start": "2026-01-01",
                "coverage_end": None,
                "previous_coverage_end": None,
            },
        )


def test_unknown_event_type_is_refused():
    with pytest.raises(ValueError):
        event_from_payload("member.promoted", {"member_id": "M1"})


def test_events_before_enrollment_are_refused():
    with pytest.raises(InvalidEventSequence):
        apply(None, MemberReenrolled(member_id="M1", plan_id="gold-hmo-2026", coverage_start=JAN1, coverage_end=DEC31))
