"""The payment schedule's slots: a run's cutoff and identity come from the interval it falls in."""

from datetime import UTC, datetime, timedelta

from services.adjudication.payments.runs import schedule_slot, scheduled_run_id


def test_a_slot_is_the_start_of_its_interval():
    at = datetime(2026, 12, 2, 10, 0, 47, 500_000, tzinfo=UTC)
    assert schedule_slot(at, 30) == datetime(2026, 12, 2, 10, 0, 30, tzinfo=UTC)
    assert schedule_slot(at, 86400) == datetime(2026, 12, 2, tzinfo=UTC)
    assert schedule_slot(at + timedelta(seconds=13), 30) == datetime(2026, 12, 2, 10, 1, tzinfo=UTC)


def test_one_run_id_per_slot():
    slot = datetime(2026, 12, 2, 10, 0, 30, tzinfo=UTC)
    assert scheduled_run_id(slot) == scheduled_run_id(schedule_slot(slot + timedelta(seconds=29), 30))
    assert scheduled_run_id(slot) != scheduled_run_id(slot + timedelta(seconds=30))
