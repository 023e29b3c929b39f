"""Rule 4: first cycle at etl-start-time (or at once when the scheduler starts or
resumes inside the window); then the later of previous start + etl-frequency
and previous end."""

from __future__ import annotations

from gimmanager.catalog import Job
from scheduler.engine import Action, decide
from scheduler.simulator import simulate
from tests.engine.helpers import at, brief, memory, options, starts, state

OPTS = options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30")


def test_it_starts_first_cycle_at_etl_start_time():
    events = simulate(OPTS, at("2026-05-01T05:00"), at("2026-05-01T07:31"))
    assert starts(events, Job.EXTRACT) == ["05-01 06:30", "05-01 07:00", "05-01 07:30"]


def test_rule4_first_cycle_starts_at_once_when_the_scheduler_starts_inside_the_window():
    events = simulate(OPTS, at("2026-05-01T10:07"), at("2026-05-01T11:10"))
    assert starts(events, Job.EXTRACT) == ["05-01 10:07", "05-01 10:37", "05-01 11:07"]


def test_rule4_a_short_cycle_waits_for_the_frequency():
    mem = memory(cycle_started_at=at("2026-05-01T06:30"))
    assert decide(OPTS, at("2026-05-01T06:59:59"), state(memory=mem)) == []
    ds = decide(OPTS, at("2026-05-01T07:00"), state(memory=mem))
    assert brief(ds) == [(Action.START, Job.EXTRACT, 4)]
    assert ds[0].reason == ("ETL cycle due at 07:00: etl-frequency 30 min after the cycle started at 06:30 "
                            "(window 06:30-00:30)")


def test_rule4_cycles_longer_than_the_frequency_follow_at_once():
    events = simulate(OPTS, at("2026-05-01T06:00"), at("2026-05-01T09:00"),
                      durations={Job.EXTRACT: 25, Job.TRANSFORM: 15})
    # Each cycle lasts 40 minutes > 30: the next one starts when it ends.
    assert starts(events, Job.EXTRACT) == ["05-01 06:30", "05-01 07:10", "05-01 07:50", "05-01 08:30"]
    assert starts(events, Job.TRANSFORM) == ["05-01 06:55", "05-01 07:35", "05-01 08:15", "05-01 08:55"]


def test_rule4_a_cycle_just_over_the_frequency_is_followed_at_its_end():
    events = simulate(OPTS, at("2026-05-01T06:00"), at("2026-05-01T08:00"),
                      durations={Job.EXTRACT: 10, Job.TRANSFORM: 21})
    assert starts(events, Job.EXTRACT) == ["05-01 06:30", "05-01 07:01", "05-01 07:32"]


def test_rule4_first_cycle_of_a_new_window_ignores_the_last_cycle_of_the_previous_one():
    mem = memory(cycle_started_at=at("2026-05-02T00:30"))
    ds = decide(OPTS, at("2026-05-02T06:30"), state(memory=mem))
    assert brief(ds) == [(Action.START, Job.EXTRACT, 3)]
    assert ds[0].reason == "first ETL cycle of the window 06:30-00:30"


def test_rule4_touching_windows_restart_the_grid_at_etl_start_time():
    # etl-start-time == etl-end-time: a 24-hour window that reopens as it closes.
    opts = options(etl_start_time="06:00", etl_end_time="06:00", etl_frequency="25")
    events = simulate(opts, at("2026-05-02T05:00"), at("2026-05-02T06:30"))
    # 05:00, 05:25, 05:50, then the new window's first cycle at 06:00, then 06:25.
    assert starts(events, Job.EXTRACT) == [
        "05-02 05:00", "05-02 05:25", "05-02 05:50", "05-02 06:00", "05-02 06:25"]
