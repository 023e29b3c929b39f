"""Rule 5: once per local day, from maintain-start-time on, Job_MaintainGIM starts
as soon as no ETL job, aggregation or export runs (a running Job_UpdateStats
does not hold it back); meanwhile no aggregation or export starts; if it cannot
start before the next ETL window opens, the day's maintenance is skipped with a
recorded reason."""

from __future__ import annotations

from datetime import date

from gimmanager.catalog import Job
from scheduler.engine import Action, Decision, advance, decide
from scheduler.simulator import simulate
from scheduler.state import CycleStage
from tests.engine.helpers import at, brief, lines, memory, options, run, starts, state

OPTS = options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30", run_maintain="true",
               maintain_start_time="03:00")
DAY = date(2026, 5, 1)
BEFORE = memory(last_tick=at("2026-05-01T02:59"))


def test_rule5_maintenance_starts_at_maintain_start_time_when_nothing_runs():
    ds = decide(OPTS, at("2026-05-01T03:00"), state(memory=BEFORE))
    assert ds == [Decision(Action.START, Job.MAINTAIN, 5,
                           "maintenance of 2026-05-01: maintain-start-time 03:00 reached and no ETL, "
                           "aggregation or export job is running", maintenance_day=DAY)]
    assert advance(BEFORE, ds, at("2026-05-01T03:00")).maintenance_day == DAY


def test_rule5_not_before_maintain_start_time():
    assert decide(OPTS, at("2026-05-01T02:59:59"), state(memory=memory(last_tick=at("2026-05-01T02:59")))) == []


def test_rule5_maintenance_waits_for_the_last_etl_cycle():
    opts = options(etl_start_time="06:00", etl_end_time="02:45", etl_frequency="30", run_maintain="true",
                   maintain_start_time="03:00")
    events = simulate(opts, at("2026-05-01T01:05"), at("2026-05-01T04:00"),
                      durations={Job.EXTRACT: 20, Job.TRANSFORM: 20})
    assert starts(events, Job.EXTRACT) == ["05-01 01:05", "05-01 01:45", "05-01 02:25"]
    # The 02:25 cycle ends at 03:05: maintenance starts then, right after the transform's end.
    assert lines(events)[-3:] == [
        "05-01 03:05 Job_TransformGIM completed scheduler",
        "05-01 03:05 Job_MaintainGIM started scheduler",
        "05-01 03:35 Job_MaintainGIM completed scheduler",
    ]


def test_rule5_waits_with_a_reason_naming_what_runs():
    tr = run(Job.TRANSFORM, 8, started=at("2026-05-01T02:50"))
    mem = memory(last_tick=at("2026-05-01T02:59"), cycle_started_at=at("2026-05-01T02:40"),
                 cycle_stage=CycleStage.TRANSFORM, cycle_extract_id=7)
    ds = decide(OPTS, at("2026-05-01T03:00"), state(running=[tr], memory=mem))
    assert ds == [Decision(Action.WAIT, Job.MAINTAIN, 5,
                           "maintenance of 2026-05-01 waits for Job_TransformGIM (run 8) to finish; it may "
                           "start until 06:30, when the next ETL window opens", maintenance_day=DAY)]
    # A wait does not settle the day.
    assert advance(mem, ds, at("2026-05-01T03:00")).maintenance_day is None


def test_rule5_a_running_update_stats_does_not_hold_maintenance_back():
    us = run(Job.UPDATE_STATS, 9, started=at("2026-05-01T02:59"))
    assert brief(decide(OPTS, at("2026-05-01T03:00"), state(running=[us], memory=BEFORE))) == [
        (Action.START, Job.MAINTAIN, 5)]


def test_rule5_no_aggregation_or_export_starts_while_maintenance_waits():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", run_maintain="true", maintain_start_time="03:00",
                   run_aggregates="true", aggregate_schedule="0 3", aggregate_duration="01:00",
                   run_export="true", export_schedule="0 3")
    tr = run(Job.TRANSFORM, 8, started=at("2026-05-01T02:50"))
    mem = memory(last_tick=at("2026-05-01T02:59"), cycle_started_at=at("2026-05-01T02:40"),
                 cycle_stage=CycleStage.TRANSFORM)
    ds = decide(opts, at("2026-05-01T03:00"), state(running=[tr], memory=mem))
    assert brief(ds) == [(Action.SKIP, Job.EXPORT, 5), (Action.WAIT, Job.MAINTAIN, 5),
                         (Action.WAIT, Job.AGGREGATE, 5)]
    assert ds[0].fire_time == at("2026-05-01T03:00")


def test_rule5_maintenance_waits_for_aggregation_to_leave_its_window():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", run_maintain="true", maintain_start_time="03:00",
                   run_aggregates="true", aggregate_schedule="30 1", aggregate_duration="02:00")
    events = simulate(opts, at("2026-05-01T01:00"), at("2026-05-01T04:00"))
    assert lines(events) == [
        "05-01 01:30 Job_AggregateGIM started scheduler",
        "05-01 03:30 Job_AggregateGIM stopped scheduler",
        "05-01 03:30 Job_MaintainGIM started scheduler",
    ]


def test_rule5_skipped_with_a_reason_when_it_cannot_start_before_the_etl_window_opens():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", run_maintain="true", maintain_start_time="03:00",
                   aggregate_schedule="0 2", aggregate_duration="05:00")
    events = simulate(opts, at("2026-05-01T01:00"), at("2026-05-01T06:31"),
                      manual=[(at("2026-05-01T02:00"), "run", Job.AGGREGATE, "")])
    assert [(f"{e.time:%H:%M}", e.job.value, e.event, e.by, e.reason) for e in events] == [
        ("02:00", "Job_AggregateGIM", "started", "manual", None),
        ("06:30", "Job_MaintainGIM", "skipped", "scheduler",
         "maintenance of 2026-05-01 skipped: it could not start between 03:00 and 06:30, when the next ETL "
         "window opened (still running: Job_AggregateGIM (run 1))"),
        ("06:30", "Job_ExtractICON", "started", "scheduler", "first ETL cycle of the window 06:30-00:30"),
    ]


def test_rule5_the_skip_is_recorded_once():
    mem = memory(last_tick=at("2026-05-01T06:29"))
    ds = decide(OPTS, at("2026-05-01T06:30"), state(memory=mem))
    assert brief(ds) == [(Action.SKIP, Job.MAINTAIN, 5), (Action.START, Job.EXTRACT, 3)]
    assert ds[0].maintenance_day == DAY
    mem = advance(mem, ds, at("2026-05-01T06:30"))
    assert mem.maintenance_day == DAY
    assert all(d.job is not Job.MAINTAIN for d in decide(OPTS, at("2026-05-01T06:31"), state(memory=mem)))


def test_rule5_maintenance_runs_once_per_local_day():
    events = simulate(OPTS, at("2026-05-01T01:00"), at("2026-05-03T01:00"))
    assert starts(events, Job.MAINTAIN) == ["05-01 03:00", "05-02 03:00"]
    mem = memory(last_tick=at("2026-05-01T03:40"), maintenance_day=DAY)
    assert decide(OPTS, at("2026-05-01T03:41"), state(memory=mem)) == []


def test_rule5_restart_inside_the_maintenance_period_starts_it_now():
    # Down from 02:00 to 04:00: the 03:00 maintenance still may run, so it does.
    ds = decide(OPTS, at("2026-05-01T04:00"), state(memory=memory(last_tick=at("2026-05-01T02:00"))))
    assert brief(ds) == [(Action.START, Job.MAINTAIN, 5)]


def test_rule5_restart_after_the_etl_window_opened_records_that_the_scheduler_was_down():
    ds = decide(OPTS, at("2026-05-01T07:00"), state(memory=memory(last_tick=at("2026-05-01T02:00"))))
    assert brief(ds) == [(Action.SKIP, Job.MAINTAIN, 5), (Action.START, Job.EXTRACT, 3)]
    assert ds[0].reason == ("maintenance of 2026-05-01 skipped: it could not start between 03:00 and 06:30, "
                            "when the next ETL window opened (the scheduler was not running from 2026-05-01 "
                            "02:00 until 2026-05-01 07:00)")


def test_rule5_a_first_start_after_the_day_chance_passed_reports_nothing():
    assert brief(decide(OPTS, at("2026-05-01T07:00"), state())) == [(Action.START, Job.EXTRACT, 3)]


def test_rule5_run_maintain_false_launches_no_maintenance():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", maintain_start_time="03:00")
    assert decide(opts, at("2026-05-01T03:00"), state(memory=BEFORE)) == []
