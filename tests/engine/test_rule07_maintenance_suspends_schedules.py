"""Rule 7: while a scheduler-started Job_MaintainGIM runs, Job_UpdateStats ticks
are skipped (not queued) and no other job is started by the scheduler, except
rule 6's ETL cycle."""

from __future__ import annotations

from gimmanager.catalog import Job
from scheduler.engine import Action, decide
from scheduler.simulator import simulate
from scheduler.state import CycleStage
from tests.engine.helpers import at, brief, lines, memory, options, run, starts, state

OPTS = options(etl_start_time="06:30", etl_end_time="00:30", run_maintain="true", maintain_start_time="03:00",
               run_update_stats="true", update_stats_schedule="0/10 *")


def test_rule7_update_stats_ticks_are_skipped_not_queued_during_maintenance():
    events = simulate(OPTS, at("2026-05-01T02:55"), at("2026-05-01T03:45"), durations={Job.MAINTAIN: 25})
    assert lines(events, job=Job.UPDATE_STATS, kinds=["started", "skipped"]) == [
        "05-01 03:00 Job_UpdateStats skipped scheduler",
        "05-01 03:10 Job_UpdateStats skipped scheduler",
        "05-01 03:20 Job_UpdateStats skipped scheduler",
        "05-01 03:30 Job_UpdateStats started scheduler",
        "05-01 03:40 Job_UpdateStats started scheduler",
    ]
    skipped = [e for e in events if e.event == "skipped"]
    assert skipped[1].reason == ("update-stats-schedule '0/10 *' fire time 03:10 skipped: the Job_UpdateStats "
                                 "schedule is suspended while the scheduler's Job_MaintainGIM runs (run 1)")


def test_rule7_update_stats_running_when_maintenance_begins_goes_on():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", run_maintain="true", maintain_start_time="03:01",
                   run_update_stats="true", update_stats_schedule="0 3")
    events = simulate(opts, at("2026-05-01T02:55"), at("2026-05-01T03:45"), durations={Job.UPDATE_STATS: 3})
    assert lines(events) == [
        "05-01 03:00 Job_UpdateStats started scheduler",
        "05-01 03:01 Job_MaintainGIM started scheduler",
        "05-01 03:03 Job_UpdateStats completed scheduler",
        "05-01 03:31 Job_MaintainGIM completed scheduler",
    ]


def test_rule7_maintenance_run_by_hand_does_not_suspend_update_stats():
    maint = run(Job.MAINTAIN, 5, by="manual", started=at("2026-05-01T04:05"))
    ds = decide(OPTS, at("2026-05-01T04:10"), state(running=[maint], memory=memory(
        last_tick=at("2026-05-01T04:09"), maintenance_day=at("2026-05-01T03:00").date())))
    assert brief(ds) == [(Action.START, Job.UPDATE_STATS, 9)]


def test_rule7_aggregation_waits_for_the_scheduler_maintenance_and_starts_when_it_ends():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", run_maintain="true", maintain_start_time="03:00",
                   run_aggregates="true", aggregate_schedule="10 3", aggregate_duration="01:00")
    maint = run(Job.MAINTAIN, 5, started=at("2026-05-01T03:00"))
    mem = memory(last_tick=at("2026-05-01T03:09"), maintenance_day=at("2026-05-01T03:00").date())
    ds = decide(opts, at("2026-05-01T03:10"), state(running=[maint], memory=mem))
    assert brief(ds) == [(Action.WAIT, Job.AGGREGATE, 7)]
    assert ds[0].reason == ("aggregation window 03:10-04:10 is open but the scheduler's Job_MaintainGIM is "
                            "running (run 5)")
    events = simulate(opts, at("2026-05-01T02:00"), at("2026-05-01T04:30"))
    assert lines(events) == [
        "05-01 03:00 Job_MaintainGIM started scheduler",
        "05-01 03:30 Job_MaintainGIM completed scheduler",
        "05-01 03:30 Job_AggregateGIM started scheduler",
        "05-01 04:10 Job_AggregateGIM stopped scheduler",
    ]


def test_rule7_the_rule6_cycle_and_its_transform_may_run_beside_a_stopping_maintenance():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", run_maintain="true", maintain_start_time="03:00")
    maint = run(Job.MAINTAIN, 5, started=at("2026-05-01T05:00"), stop_requested=True)
    ext = run(Job.EXTRACT, 6, started=at("2026-05-01T06:30"), ended=at("2026-05-01T06:35"))
    mem = memory(last_tick=at("2026-05-01T06:34"), maintenance_day=at("2026-05-01T03:00").date(),
                 cycle_started_at=at("2026-05-01T06:30"), cycle_stage=CycleStage.EXTRACT)
    assert brief(decide(opts, at("2026-05-01T06:35"), state(running=[maint], last=[ext], memory=mem))) == [
        (Action.START, Job.TRANSFORM, 2)]
    assert starts(simulate(opts, at("2026-05-01T06:00"), at("2026-05-01T06:40")), Job.TRANSFORM) == [
        "05-01 06:35"]
