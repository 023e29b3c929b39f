"""Rule 9: Job_UpdateStats starts at each update-stats-schedule fire time
(default `0/10 *`) unless it is still running (that tick is skipped)."""

from __future__ import annotations

from gimmanager.catalog import Job
from scheduler.engine import Action, Decision, advance, decide
from scheduler.simulator import simulate
from tests.engine.helpers import at, lines, memory, options, state

OPTS = options(etl_start_time="06:30", etl_end_time="00:30", run_update_stats="true")


def test_rule9_default_schedule_is_every_ten_minutes():
    assert OPTS.update_stats_schedule.text == "0/10 *"
    events = simulate(OPTS, at("2026-05-01T01:00"), at("2026-05-01T01:35"))
    assert lines(events, kinds=["started"]) == [
        "05-01 01:00 Job_UpdateStats started scheduler", "05-01 01:10 Job_UpdateStats started scheduler",
        "05-01 01:20 Job_UpdateStats started scheduler", "05-01 01:30 Job_UpdateStats started scheduler"]


def test_rule9_starts_at_a_fire_time_with_the_tick_it_consumes():
    mem = memory(last_tick=at("2026-05-01T10:09:59"))
    ds = decide(options(etl_start_time="06:30", etl_end_time="06:31", run_update_stats="true"),
                at("2026-05-01T10:10"), state(memory=mem))
    assert ds == [Decision(Action.START, Job.UPDATE_STATS, 9, "update-stats-schedule '0/10 *' fire time 10:10",
                           fire_time=at("2026-05-01T10:10"))]
    after = advance(mem, ds, at("2026-05-01T10:10"))
    assert after.last_fire[Job.UPDATE_STATS] == at("2026-05-01T10:10")
    assert after.last_tick == at("2026-05-01T10:10")


def test_rule9_skips_tick_while_update_stats_runs():
    events = simulate(OPTS, at("2026-05-01T01:00"), at("2026-05-01T01:25"), durations={Job.UPDATE_STATS: 15})
    assert lines(events) == [
        "05-01 01:00 Job_UpdateStats started scheduler",
        "05-01 01:10 Job_UpdateStats skipped scheduler",
        "05-01 01:15 Job_UpdateStats completed scheduler",
        "05-01 01:20 Job_UpdateStats started scheduler",
    ]
    assert events[1].reason == ("update-stats-schedule '0/10 *' fire time 01:10 skipped: Job_UpdateStats is still "
                                "running (run 1, started by scheduler)")


def test_rule9_a_fresh_memory_fires_only_at_a_fire_time():
    assert decide(OPTS, at("2026-05-01T01:03"), state()) == []


def test_rule9_each_fire_time_is_consumed_once():
    mem = advance(memory(last_tick=at("2026-05-01T01:09")),
                  decide(OPTS, at("2026-05-01T01:10"), state(memory=memory(last_tick=at("2026-05-01T01:09")))),
                  at("2026-05-01T01:10"))
    # Same instant again (a second tick in the same second): nothing more.
    assert decide(OPTS, at("2026-05-01T01:10"), state(memory=mem)) == []


def test_rule9_run_update_stats_false_passes_ticks_silently():
    opts = options(etl_start_time="06:30", etl_end_time="00:30")
    assert decide(opts, at("2026-05-01T01:10"), state(memory=memory(last_tick=at("2026-05-01T01:09")))) == []
