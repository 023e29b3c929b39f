"""next_wakeup: the next instant at which the scheduler's answer can change by
the clock alone (the beat sleeps until then, capped)."""

from __future__ import annotations

from scheduler.engine import next_wakeup
from tests.engine.helpers import at, memory, options, sample, state


def test_it_wakes_for_the_maintenance_time_and_the_aggregation_window_edge():
    assert next_wakeup(sample(), at("2026-05-01T01:00"), state()) == at("2026-05-01T03:00")


def test_it_wakes_for_the_next_aggregation_window():
    assert next_wakeup(sample(), at("2026-05-01T03:30"), state()) == at("2026-05-01T04:00")


def test_it_wakes_for_the_next_window_opening():
    assert next_wakeup(sample(), at("2026-05-01T04:10"), state()) == at("2026-05-01T06:30")


def test_it_wakes_when_the_next_cycle_is_due():
    mem = memory(cycle_started_at=at("2026-05-01T07:00"))
    assert next_wakeup(sample(), at("2026-05-01T07:12"), state(memory=mem)) == at("2026-05-01T07:30")


def test_it_wakes_for_cron_ticks_strictly_after_now():
    opts = options(etl_start_time="06:30", etl_end_time="06:31", run_update_stats="true")
    assert next_wakeup(opts, at("2026-05-01T10:03"), state()) == at("2026-05-01T10:10")
    assert next_wakeup(opts, at("2026-05-01T10:10"), state()) == at("2026-05-01T10:20")


def test_it_wakes_after_the_gap_on_spring_forward_new_york_2026_03_08():
    opts = options(etl_start_time="06:30", etl_end_time="06:31", run_update_stats="true")
    assert next_wakeup(opts, at("2026-03-08T01:55"), state()) == at("2026-03-08T03:00")


def test_it_never_sleeps_more_than_a_day():
    opts = options(etl_start_time="06:30", etl_end_time="06:31", run_maintain="false")
    now = at("2026-05-01T06:31")
    assert now < next_wakeup(opts, now, state()) <= at("2026-05-02T06:31")
