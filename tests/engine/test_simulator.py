"""The simulator itself: failures, Manager actions, event order and rendering."""

from __future__ import annotations

import json

import pytest

from gimmanager.catalog import Job
from scheduler.simulator import Event, render_json, render_text, simulate
from tests.engine.helpers import at, lines, options

OPTS = options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30")


def test_it_fails_the_next_run_starting_after_the_fail_instant_at_its_planned_end():
    events = simulate(OPTS, at("2026-05-01T06:00"), at("2026-05-01T06:45"),
                      fails=[(Job.TRANSFORM, at("2026-05-01T06:10"))])
    assert lines(events) == [
        "05-01 06:30 Job_ExtractICON started scheduler",
        "05-01 06:35 Job_ExtractICON completed scheduler",
        "05-01 06:35 Job_TransformGIM started scheduler",
        "05-01 06:40 Job_TransformGIM failed scheduler",
    ]
    assert events[-1].reason == "simulated failure (Job_TransformGIM@2026-05-01T06:10:00-04:00)"


def test_it_uses_each_failure_once():
    events = simulate(OPTS, at("2026-05-01T06:00"), at("2026-05-01T07:10"),
                      fails=[(Job.EXTRACT, at("2026-05-01T06:31"))])
    assert [e.event for e in events if e.job is Job.EXTRACT] == ["started", "failed", "started", "completed"]


def test_it_runs_manual_actions_through_the_manual_rules():
    events = simulate(OPTS, at("2026-05-01T01:00"), at("2026-05-01T02:00"), manual=[
        (at("2026-05-01T01:00"), "run", Job.MAINTAIN, ""),
        (at("2026-05-01T01:05"), "run", Job.MAINTAIN, ""),
        (at("2026-05-01T01:06"), "cancel", Job.MAINTAIN, ""),
        (at("2026-05-01T01:07"), "run", Job.UPDATE_STATS, ""),
        (at("2026-05-01T01:08"), "stop", Job.MAINTAIN, ""),
        (at("2026-05-01T01:09"), "stop", Job.MAINTAIN, ""),
        (at("2026-05-01T01:10"), "cancel", Job.EXPORT, ""),
    ])
    assert [(f"{e.time:%H:%M}", e.job.value, e.event, e.by) for e in events] == [
        ("01:00", "Job_MaintainGIM", "started", "manual"),
        ("01:05", "Job_MaintainGIM", "scheduled", "manual"),
        ("01:06", "Job_MaintainGIM", "cancelled", "manual"),
        ("01:07", "Job_UpdateStats", "refused", "manual"),
        ("01:08", "Job_MaintainGIM", "stopped", "manual"),
        ("01:09", "Job_MaintainGIM", "refused", "manual"),
        ("01:10", "Job_ExportGIM", "refused", "manual"),
    ]
    assert events[0].reason.startswith("Job_MaintainGIM is not protected from other jobs when run by hand")
    assert events[3].reason.startswith("Job_UpdateStats cannot be run from the Manager")


def test_a_reaggregation_request_goes_to_the_running_aggregation():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", run_aggregates="true", aggregate_schedule="0 1",
                   aggregate_duration="02:00")
    events = simulate(opts, at("2026-05-01T00:50"), at("2026-05-01T01:30"), manual=[
        (at("2026-05-01T01:10"), "run", Job.AGGREGATE, "-insertPendingAgg ALLSETS:2026-04-01:2026-04-02"),
        (at("2026-05-01T01:20"), "run", Job.AGGREGATE, ""),
    ])
    assert [(f"{e.time:%H:%M}", e.event, e.by) for e in events] == [
        ("01:00", "started", "scheduler"), ("01:10", "skipped", "manual"), ("01:20", "refused", "manual")]
    assert events[1].reason == "Re-aggregation request handed to the running Job_AggregateGIM (run 1)."


def test_waits_are_reported_once_when_asked_for():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", run_maintain="true", maintain_start_time="03:00")
    events = simulate(opts, at("2026-05-01T02:50"), at("2026-05-01T03:40"), include_waits=True,
                      manual=[(at("2026-05-01T02:55"), "run", Job.EXTRACT, "")], durations={Job.EXTRACT: 10})
    assert lines(events) == [
        "05-01 02:55 Job_ExtractICON started manual",
        "05-01 03:00 Job_MaintainGIM waiting scheduler",
        "05-01 03:05 Job_ExtractICON completed manual",
        "05-01 03:05 Job_MaintainGIM started scheduler",
        "05-01 03:35 Job_MaintainGIM completed scheduler",
    ]


def test_zero_length_runs_settle():
    events = simulate(OPTS, at("2026-05-01T06:00"), at("2026-05-01T06:31"),
                      durations={Job.EXTRACT: 0, Job.TRANSFORM: 0})
    assert lines(events) == [
        "05-01 06:30 Job_ExtractICON started scheduler", "05-01 06:30 Job_ExtractICON completed scheduler",
        "05-01 06:30 Job_TransformGIM started scheduler", "05-01 06:30 Job_TransformGIM completed scheduler"]


def test_the_end_instant_is_excluded():
    assert simulate(OPTS, at("2026-05-01T06:00"), at("2026-05-01T06:30")) == []


def test_it_refuses_naive_datetimes():
    from datetime import datetime

    with pytest.raises(ValueError, match="aware"):
        simulate(OPTS, datetime(2026, 5, 1), datetime(2026, 5, 2))


def test_it_renders_json_and_text():
    events = [Event(at("2026-05-01T06:30"), Job.EXTRACT, "started", "scheduler", "first cycle"),
              Event(at("2026-05-01T06:35"), Job.EXTRACT, "completed", "scheduler")]
    assert json.loads(json.dumps(render_json(events))) == [
        {"time": "2026-05-01T06:30:00-04:00", "job": "Job_ExtractICON", "event": "started", "by": "scheduler",
         "reason": "first cycle"},
        {"time": "2026-05-01T06:35:00-04:00", "job": "Job_ExtractICON", "event": "completed", "by": "scheduler",
         "reason": None},
    ]
    assert render_text(events).splitlines() == [
        "2026-05-01T06:30:00-04:00  Job_ExtractICON   started    by scheduler  first cycle",
        "2026-05-01T06:35:00-04:00  Job_ExtractICON   completed  by scheduler",
    ]
