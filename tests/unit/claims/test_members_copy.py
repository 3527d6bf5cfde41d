from services.claims.members import next_segments


def test_enrolment_termination_and_plan_change_shape_the_coverage():
    segments = next_segments([], "member.enrolled", {"coverage_start": "2026-01-01", "coverage_end": None})
    assert segments == [{"start": "2026-01-01", "end": None}]
    segments = next_segments(segments, "member.plan_changed",
                             {"previous_coverage_end": "2026-05-31", "effective_date": "2026-06-01", "coverage_end": None})
    assert segments == [{"start": "2026-01-01", "end": "2026-05-31"}, {"start": "2026-06-01", "end": None}]
    segments = next_segments(segments, "member.coverage_terminated",
                             {"coverage_start": "2026-06-01", "coverage_end": "2026-09-30"})
    assert segments[-1] == {"start": "2026-06-01", "end": "2026-09-30"}


def test_a_plan_change_on_the_first_day_replaces_the_period():
    segments = [{"start": "2026-01-01", "end": None}]
    changed = next_segments(segments, "member.plan_changed",
                            {"previous_coverage_end": None, "effective_date": "2026-01-01", "coverage_end": None})
    assert changed == [{"start": "2026-01-01", "end": None}]
    assert segments == [{"start": "2026-01-01", "end": None}]  # input untouched
