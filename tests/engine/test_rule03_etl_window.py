"""Rule 3: ETL cycles start only at instants inside [etl-start-time, etl-end-time]
(local); the window may span midnight; etl-end-time is the latest start."""

from __future__ import annotations

from gimmanager.catalog import Job
from scheduler.engine import Action, decide
from scheduler.simulator import simulate
from tests.engine.helpers import at, brief, memory, options, starts, state


def test_rule3_no_cycle_before_etl_start_time():
    opts = options(etl_start_time="06:30", etl_end_time="00:30")
    assert decide(opts, at("2026-05-01T06:29:59"), state()) == []
    assert brief(decide(opts, at("2026-05-01T06:30"), state())) == [(Action.START, Job.EXTRACT, 3)]


def test_rule3_a_cycle_may_begin_exactly_at_etl_end_time_but_not_after():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30")
    mem = memory(cycle_started_at=at("2026-05-02T00:00"))
    assert brief(decide(opts, at("2026-05-02T00:30"), state(memory=mem))) == [(Action.START, Job.EXTRACT, 4)]
    # The previous cycle ran long: at 00:31 the cycle is due but the window has closed.
    assert decide(opts, at("2026-05-02T00:31"), state(memory=mem)) == []


def test_rule3_a_cycle_due_after_etl_end_time_waits_for_the_next_window():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30")
    events = simulate(opts, at("2026-05-01T23:40"), at("2026-05-02T07:05"),
                      durations={Job.EXTRACT: 20, Job.TRANSFORM: 20})
    # 23:40 (started inside the window), then every 40 min (cycles longer than the
    # frequency): 00:20; the one due at 01:00 is past 00:30; next at 06:30.
    assert starts(events, Job.EXTRACT) == ["05-01 23:40", "05-02 00:20", "05-02 06:30"]


def test_rule3_window_spanning_midnight_runs_from_evening_to_next_morning():
    opts = options(etl_start_time="18:00", etl_end_time="06:00", etl_frequency="60")
    events = simulate(opts, at("2026-05-01T12:00"), at("2026-05-02T12:00"))
    assert starts(events, Job.EXTRACT) == [
        "05-01 18:00", "05-01 19:00", "05-01 20:00", "05-01 21:00", "05-01 22:00", "05-01 23:00",
        "05-02 00:00", "05-02 01:00", "05-02 02:00", "05-02 03:00", "05-02 04:00", "05-02 05:00",
        "05-02 06:00"]


def test_rule3_window_spanning_midnight_is_open_after_midnight():
    opts = options(etl_start_time="18:00", etl_end_time="06:00")
    assert brief(decide(opts, at("2026-05-02T03:17"), state())) == [(Action.START, Job.EXTRACT, 3)]
    assert decide(opts, at("2026-05-02T06:01"), state()) == []
    assert decide(opts, at("2026-05-02T17:59"), state()) == []
