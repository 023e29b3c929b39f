"""Rule 10: Job_ExportGIM starts at each export-schedule fire time (default
`20 0/8`) unless it is still running, never together with Job_MaintainGIM."""

from __future__ import annotations

from gimmanager.catalog import Job
from scheduler.engine import Action, decide
from scheduler.simulator import simulate
from scheduler.state import CycleStage
from tests.engine.helpers import at, brief, lines, memory, options, run, starts, state

OPTS = options(etl_start_time="06:30", etl_end_time="06:31", run_export="true")


def test_rule10_default_schedule_runs_at_00_20_08_20_and_16_20():
    events = simulate(OPTS, at("2026-05-01T00:00"), at("2026-05-02T00:00"))
    assert starts(events, Job.EXPORT) == ["05-01 00:20", "05-01 08:20", "05-01 16:20"]


def test_rule10_skips_a_tick_while_export_still_runs():
    events = simulate(OPTS, at("2026-05-01T00:00"), at("2026-05-02T00:00"), durations={Job.EXPORT: 600})
    assert lines(events, job=Job.EXPORT) == [
        "05-01 00:20 Job_ExportGIM started scheduler",
        "05-01 08:20 Job_ExportGIM skipped scheduler",
        "05-01 10:20 Job_ExportGIM completed scheduler",
        "05-01 16:20 Job_ExportGIM started scheduler",
    ]


def test_rule10_never_together_with_scheduler_maintenance():
    opts = options(etl_start_time="06:30", etl_end_time="06:31", run_export="true", run_maintain="true",
                   maintain_start_time="00:10")
    events = simulate(opts, at("2026-05-01T00:00"), at("2026-05-01T01:00"))
    assert lines(events) == [
        "05-01 00:10 Job_MaintainGIM started scheduler",
        "05-01 00:20 Job_ExportGIM skipped scheduler",
        "05-01 00:40 Job_MaintainGIM completed scheduler",
    ]
    assert events[1].reason == ("export-schedule '20 0/8' fire time 00:20 skipped: Job_ExportGIM never runs "
                                "together with Job_MaintainGIM (run 1, started by scheduler)")


def test_rule10_never_together_with_maintenance_run_by_hand_either():
    maint = run(Job.MAINTAIN, 3, by="manual", started=at("2026-05-01T08:00"))
    ds = decide(OPTS, at("2026-05-01T08:20"), state(running=[maint], memory=memory(
        last_tick=at("2026-05-01T08:19"))))
    assert brief(ds) == [(Action.SKIP, Job.EXPORT, 10)] and ds[0].fire_time == at("2026-05-01T08:20")


def test_rule10_export_may_run_beside_an_etl_cycle():
    opts = options(etl_start_time="08:00", etl_end_time="09:00", run_export="true")
    ext = run(Job.EXTRACT, 3, started=at("2026-05-01T08:15"))
    mem = memory(last_tick=at("2026-05-01T08:19"), cycle_started_at=at("2026-05-01T08:15"),
                 cycle_stage=CycleStage.EXTRACT)
    ds = decide(opts, at("2026-05-01T08:20"), state(running=[ext], memory=mem))
    assert brief(ds) == [(Action.START, Job.EXPORT, 10)]
