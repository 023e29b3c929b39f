"""Rule 11: run-scheduler false: the scheduler launches no job and running jobs go
on; true again resumes at once. run-maintain, run-aggregates, run-update-stats
and run-export switch their own job."""

from __future__ import annotations

from gimmanager.catalog import Job
from scheduler.engine import Action, advance, decide
from scheduler.simulator import OptionChange, simulate
from tests.engine.helpers import at, brief, lines, memory, options, run, starts, state

ON = options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30")
OFF = options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30", run_scheduler="false")


def test_rule11_a_paused_scheduler_launches_nothing_and_says_why():
    ds = decide(OFF, at("2026-05-01T06:30"), state())
    assert brief(ds) == [(Action.WAIT, Job.EXTRACT, 11)]
    assert ds[0].reason == ("run-scheduler is false, so the scheduler launches no job; due: first ETL cycle of "
                            "the window 06:30-00:30")


def test_rule11_cron_ticks_while_paused_are_skipped_and_consumed():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", run_scheduler="false", run_update_stats="true")
    mem = memory(last_tick=at("2026-05-01T01:09"))
    ds = decide(opts, at("2026-05-01T01:10"), state(memory=mem))
    assert brief(ds) == [(Action.SKIP, Job.UPDATE_STATS, 11)]
    assert ds[0].reason == "update-stats-schedule '0/10 *' fire times skipped: run-scheduler is false"
    assert ds[0].fire_time == at("2026-05-01T01:10")
    mem = advance(mem, ds, at("2026-05-01T01:10"))
    # Resuming later does not run the missed tick.
    on = options(etl_start_time="06:30", etl_end_time="00:30", run_update_stats="true")
    assert decide(on, at("2026-05-01T01:15"), state(memory=mem)) == []


def test_rule11_running_jobs_go_on_while_paused():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", run_scheduler="false", run_aggregates="true",
                   aggregate_schedule="0 1", aggregate_duration="02:00")
    agg = run(Job.AGGREGATE, 4, started=at("2026-05-01T01:00"))
    # Past the window's end: a running scheduler would stop it; a paused one does not.
    assert decide(opts, at("2026-05-01T03:05"), state(running=[agg])) == []


def test_rule11_resumes_at_once_inside_the_window():
    events = simulate(OFF, at("2026-05-01T06:00"), at("2026-05-01T11:00"),
                      changes=[OptionChange(at("2026-05-01T10:07"), ON)])
    assert starts(events, Job.EXTRACT) == ["05-01 10:07", "05-01 10:37"]


def test_rule11_a_cycle_paused_between_extraction_and_transform_resumes_with_the_transform():
    events = simulate(ON, at("2026-05-01T06:00"), at("2026-05-01T07:30"),
                      changes=[OptionChange(at("2026-05-01T06:32"), OFF), OptionChange(at("2026-05-01T07:10"), ON)])
    assert lines(events) == [
        "05-01 06:30 Job_ExtractICON started scheduler",
        "05-01 06:35 Job_ExtractICON completed scheduler",
        "05-01 07:10 Job_TransformGIM started scheduler",
        "05-01 07:15 Job_TransformGIM completed scheduler",
        # The next cycle was due at 07:00; the previous one ended at 07:15 (rule 4).
        "05-01 07:15 Job_ExtractICON started scheduler",
        "05-01 07:20 Job_ExtractICON completed scheduler",
        "05-01 07:20 Job_TransformGIM started scheduler",
        "05-01 07:25 Job_TransformGIM completed scheduler",
    ]


def test_rule11_maintenance_missed_while_paused_is_skipped_with_the_reason():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", run_maintain="true", maintain_start_time="03:00",
                   run_scheduler="false")
    events = simulate(opts, at("2026-05-01T02:00"), at("2026-05-01T06:31"))
    assert [(f"{e.time:%H:%M}", e.job, e.event) for e in events] == [("06:30", Job.MAINTAIN, "skipped")]
    assert events[0].reason.endswith("(run-scheduler was false)")


def test_rule11_run_export_switches_only_its_job_and_old_ticks_do_not_fire_when_switched_on():
    no_export = options(etl_start_time="06:30", etl_end_time="06:31", run_update_stats="true",
                        update_stats_schedule="20 *")
    with_export = options(etl_start_time="06:30", etl_end_time="06:31", run_update_stats="true",
                          update_stats_schedule="20 *", run_export="true")
    events = simulate(no_export, at("2026-05-01T08:00"), at("2026-05-01T17:00"),
                      changes=[OptionChange(at("2026-05-01T09:00"), with_export)])
    assert starts(events, Job.EXPORT) == ["05-01 16:20"]
    assert starts(events, Job.UPDATE_STATS)[:2] == ["05-01 08:20", "05-01 09:20"]
