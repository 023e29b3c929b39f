"""Rule 1: no job starts while another instance of the same job runs."""

from __future__ import annotations

from gimmanager.catalog import Job
from scheduler.engine import Action, decide
from scheduler.simulator import ManualAction, simulate
from tests.engine.helpers import at, brief, memory, options, run, starts, state


def test_rule1_cycle_waits_while_a_manual_extraction_runs():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30")
    manual = run(Job.EXTRACT, 7, by="manual", started=at("2026-05-01T06:20"))
    ds = decide(opts, at("2026-05-01T06:30"), state(running=[manual]))
    assert brief(ds) == [(Action.WAIT, Job.EXTRACT, 1)]
    assert "already running (run 7, started by manual)" in ds[0].reason


def test_rule1_cycle_starts_when_the_manual_extraction_ends():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30")
    events = simulate(opts, at("2026-05-01T06:00"), at("2026-05-01T07:10"),
                      manual=[(at("2026-05-01T06:26"), "run", Job.EXTRACT, "")])
    # The manual extraction runs 06:26-06:31; the 06:30 cycle starts at 06:31,
    # and the next keeps the spacing from that start (rule 4).
    assert starts(events, Job.EXTRACT) == ["05-01 06:26", "05-01 06:31", "05-01 07:01"]


def test_rule1_maintenance_waits_while_a_manual_maintenance_runs():
    opts = options(run_maintain="true", maintain_start_time="03:00", etl_start_time="06:30",
                   etl_end_time="00:30")
    by_hand = run(Job.MAINTAIN, 3, by="manual", started=at("2026-05-01T02:50"))
    ds = decide(opts, at("2026-05-01T03:00"), state(running=[by_hand], memory=memory(
        last_tick=at("2026-05-01T02:59"))))
    assert brief(ds) == [(Action.WAIT, Job.MAINTAIN, 1)]


def test_rule1_aggregation_started_by_hand_inside_its_window_is_left_running():
    opts = options(run_aggregates="true", aggregate_schedule="0 1", aggregate_duration="05:00")
    by_hand = run(Job.AGGREGATE, 4, by="manual", started=at("2026-05-01T00:30"))
    assert decide(opts, at("2026-05-01T03:30"), state(running=[by_hand])) == []


def test_rule1_a_scheduled_manual_request_starts_after_the_scheduler_run():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30")
    events = simulate(opts, at("2026-05-01T06:00"), at("2026-05-01T06:45"),
                      manual=[ManualAction(at("2026-05-01T06:32"), "run", Job.EXTRACT)])
    got = [(f"{e.time:%H:%M}", e.job.value, e.event, e.by) for e in events if e.job is Job.EXTRACT]
    assert got == [
        ("06:30", "Job_ExtractICON", "started", "scheduler"),
        ("06:32", "Job_ExtractICON", "scheduled", "manual"),
        ("06:35", "Job_ExtractICON", "completed", "scheduler"),
        ("06:35", "Job_ExtractICON", "started", "manual"),
        ("06:40", "Job_ExtractICON", "completed", "manual"),
    ]
