"""Rule 8: each aggregation window starts at an aggregate-schedule fire time and
lasts aggregate-duration; inside it Job_AggregateGIM runs continuously (started
at the window's start, when the scheduler starts or resumes inside it, when a
maintenance that held it ends, again if it stops or fails) and is stopped by the
scheduler when the window ends."""

from __future__ import annotations

from gimmanager.catalog import Job
from scheduler.engine import Action, decide
from scheduler.simulator import simulate
from tests.engine.helpers import at, brief, lines, options, run, state

# ETL window 06:30-00:30 keeps the ETL cycles out of these nights.
OPTS = options(etl_start_time="06:30", etl_end_time="00:30", run_aggregates="true", aggregate_schedule="0 1",
               aggregate_duration="02:00")


def test_rule8_runs_from_window_start_and_is_stopped_at_window_end():
    events = simulate(OPTS, at("2026-05-01T00:45"), at("2026-05-01T04:00"))
    assert [(f"{e.time:%H:%M}", e.event, e.by, e.reason) for e in events] == [
        ("01:00", "started", "scheduler", "aggregation window 01:00-03:00"),
        ("03:00", "stopped", "scheduler",
         "the aggregation window 01:00-03:00 ended: Job_AggregateGIM (run 1) is stopped"),
    ]


def test_rule8_restarted_when_it_fails_inside_the_window():
    events = simulate(OPTS, at("2026-05-01T00:45"), at("2026-05-01T04:00"),
                      fails=[(Job.AGGREGATE, at("2026-05-01T01:30"))])
    assert lines(events) == [
        "05-01 01:00 Job_AggregateGIM started scheduler",
        "05-01 01:30 Job_AggregateGIM failed scheduler",
        "05-01 01:30 Job_AggregateGIM started scheduler",
        "05-01 03:00 Job_AggregateGIM stopped scheduler",
    ]
    assert events[2].reason == "aggregation window 01:00-03:00: restarted after run 1 ended (failed) inside the window"


def test_rule8_restarted_when_stopped_by_hand_inside_the_window():
    events = simulate(OPTS, at("2026-05-01T00:45"), at("2026-05-01T02:00"),
                      manual=[(at("2026-05-01T01:20"), "stop", Job.AGGREGATE, "")])
    assert lines(events) == [
        "05-01 01:00 Job_AggregateGIM started scheduler",
        "05-01 01:20 Job_AggregateGIM stopped manual",
        "05-01 01:20 Job_AggregateGIM started scheduler",
    ]
    assert "the scheduler will restart Job_AggregateGIM" in events[1].reason


def test_rule8_starts_at_once_when_the_scheduler_starts_inside_the_window():
    events = simulate(OPTS, at("2026-05-01T01:20"), at("2026-05-01T01:30"))
    assert lines(events) == ["05-01 01:20 Job_AggregateGIM started scheduler"]


def test_rule8_touching_windows_merge_into_one_run():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", run_aggregates="true",
                   aggregate_schedule="0 1,3", aggregate_duration="02:00")
    events = simulate(opts, at("2026-05-01T00:45"), at("2026-05-01T06:00"))
    assert lines(events) == ["05-01 01:00 Job_AggregateGIM started scheduler",
                             "05-01 05:00 Job_AggregateGIM stopped scheduler"]


def test_rule8_several_windows_a_day():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", run_aggregates="true",
                   aggregate_schedule="0 1,13", aggregate_duration="01:00")
    events = simulate(opts, at("2026-05-01T00:45"), at("2026-05-01T15:00"))
    assert lines(events, job=Job.AGGREGATE) == [
        "05-01 01:00 Job_AggregateGIM started scheduler", "05-01 02:00 Job_AggregateGIM stopped scheduler",
        "05-01 13:00 Job_AggregateGIM started scheduler", "05-01 14:00 Job_AggregateGIM stopped scheduler"]


def test_rule8_a_run_started_by_hand_is_stopped_outside_the_windows_once_run_aggregates_is_true():
    by_hand = run(Job.AGGREGATE, 4, by="manual", started=at("2026-05-01T04:00"))
    ds = decide(OPTS, at("2026-05-01T05:00"), state(running=[by_hand]))
    assert brief(ds) == [(Action.STOP, Job.AGGREGATE, 8)] and ds[0].run_id == 4
    assert ds[0].reason == ("outside the aggregation windows (aggregate-schedule '0 1', aggregate-duration "
                            "02:00): Job_AggregateGIM (run 4) is stopped")


def test_rule8_a_stopping_aggregation_is_not_stopped_again():
    stopping = run(Job.AGGREGATE, 4, started=at("2026-05-01T01:00"), stop_requested=True)
    assert decide(OPTS, at("2026-05-01T03:00:01"), state(running=[stopping])) == []


def test_rule8_run_aggregates_false_leaves_aggregation_to_the_operator():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", aggregate_schedule="0 1",
                   aggregate_duration="02:00")
    mine = run(Job.AGGREGATE, 4, started=at("2026-05-01T01:00"))
    assert decide(opts, at("2026-05-01T03:00"), state(running=[mine])) == []
    assert decide(opts, at("2026-05-01T01:00"), state()) == []


def test_rule8_zero_duration_means_no_aggregation():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", run_aggregates="true", aggregate_schedule="0 1",
                   aggregate_duration="00:00")
    assert simulate(opts, at("2026-05-01T00:45"), at("2026-05-01T04:00")) == []
