"""scheduler.manual: the pure rules for jobs run from the Manager (decide_run,
decide_stop), numbered as in that module: 1 one instance (SCHEDULED), 3
maintenance by hand warned, 4 aggregation by hand only with run-aggregates false
and inside its window, 5 re-aggregation handed over, 6 UpdateStats and Export
not runnable by hand, 7 stopping a scheduler-owned aggregation warns."""

from __future__ import annotations

from gimmanager.catalog import Job, Status
from scheduler.manual import MAINTAIN_WARNING, Verdict, decide_run, decide_stop
from tests.engine.helpers import at, options, run, state

AGG_WINDOW = {"aggregate_schedule": "0 1", "aggregate_duration": "05:00"}


def test_rule1_a_request_for_a_running_job_is_scheduled():
    ext = run(Job.EXTRACT, 3, started=at("2026-05-01T06:30"))
    d = decide_run(options(), at("2026-05-01T06:31"), state(running=[ext]).jobs, Job.EXTRACT)
    assert (d.verdict, d.rule) == (Verdict.SCHEDULE, 1)
    assert d.message == ("Job_ExtractICON is already running (run 3); this request is SCHEDULED and starts "
                         "when that run ends.")


def test_rule1_a_second_request_while_one_is_scheduled_is_refused():
    ext = run(Job.EXTRACT, 3, started=at("2026-05-01T06:30"))
    waiting = run(Job.EXTRACT, 4, by="manual", started=at("2026-05-01T06:31"), status=Status.SCHEDULED)
    d = decide_run(options(), at("2026-05-01T06:32"), state(running=[ext], scheduled=[waiting]).jobs, Job.EXTRACT)
    assert (d.verdict, d.rule) == (Verdict.REFUSE, 1)


def test_rule1_a_job_not_running_starts():
    d = decide_run(options(), at("2026-05-01T06:31"), state().jobs, Job.EXTRACT)
    assert (d.verdict, d.rule, d.warnings) == (Verdict.START, 1, ())


def test_rule3_maintenance_by_hand_starts_with_a_deadlock_warning():
    ext = run(Job.EXTRACT, 3, started=at("2026-05-01T06:30"))
    d = decide_run(options(run_update_stats="true"), at("2026-05-01T06:31"), state(running=[ext]).jobs,
                   Job.MAINTAIN)
    assert d.verdict is Verdict.START
    assert d.warnings == (MAINTAIN_WARNING + " (the ETL schedule is active; the Job_UpdateStats schedule is "
                          "active; running now: Job_ExtractICON)",)


def test_rule3_maintenance_by_hand_with_the_scheduler_paused_and_nothing_running_has_no_warning():
    d = decide_run(options(run_scheduler="false"), at("2026-05-01T04:00"), state().jobs, Job.MAINTAIN)
    assert (d.verdict, d.warnings) == (Verdict.START, ())


def test_rule4_aggregation_by_hand_is_refused_while_run_aggregates_is_true():
    d = decide_run(options(run_aggregates="true", **AGG_WINDOW), at("2026-05-01T02:00"), state().jobs,
                   Job.AGGREGATE)
    assert (d.verdict, d.rule) == (Verdict.REFUSE, 4) and "run-aggregates is true" in d.message


def test_rule4_aggregation_by_hand_is_refused_outside_its_window():
    d = decide_run(options(**AGG_WINDOW), at("2026-05-01T08:00"), state().jobs, Job.AGGREGATE)
    assert (d.verdict, d.rule) == (Verdict.REFUSE, 4) and "outside its configured window" in d.message


def test_rule4_aggregation_by_hand_starts_inside_its_window():
    d = decide_run(options(**AGG_WINDOW), at("2026-05-01T02:00"), state().jobs, Job.AGGREGATE)
    assert (d.verdict, d.rule) == (Verdict.START, 4)


def test_rule5_reaggregation_is_handed_to_the_running_aggregation_even_with_run_aggregates_true():
    agg = run(Job.AGGREGATE, 8, started=at("2026-05-01T01:00"))
    d = decide_run(options(run_aggregates="true", **AGG_WINDOW), at("2026-05-01T02:00"),
                   state(running=[agg]).jobs, Job.AGGREGATE, reaggregation=True)
    assert (d.verdict, d.rule) == (Verdict.HAND_OVER, 5)


def test_rule5_reaggregation_without_a_running_aggregation_starts_it_and_ignores_the_parameters():
    d = decide_run(options(**AGG_WINDOW), at("2026-05-01T02:00"), state().jobs, Job.AGGREGATE, reaggregation=True)
    assert (d.verdict, d.rule, d.ignore_params) == (Verdict.START, 5, True)


def test_rule6_update_stats_and_export_cannot_be_run_by_hand():
    for job in (Job.UPDATE_STATS, Job.EXPORT):
        d = decide_run(options(), at("2026-05-01T02:00"), state().jobs, job)
        assert (d.verdict, d.rule) == (Verdict.REFUSE, 6)


def test_rule7_stopping_the_scheduler_aggregation_inside_its_window_warns_it_will_restart():
    agg = run(Job.AGGREGATE, 8, started=at("2026-05-01T01:00"))
    d = decide_stop(options(run_aggregates="true", **AGG_WINDOW), at("2026-05-01T02:00"), agg)
    assert (d.verdict, d.rule) == (Verdict.STOP, 7)
    assert "will restart Job_AggregateGIM almost at once" in d.warnings[0]


def test_rule7_stopping_aggregation_with_run_aggregates_false_has_no_warning():
    agg = run(Job.AGGREGATE, 8, by="manual", started=at("2026-05-01T01:00"))
    d = decide_stop(options(**AGG_WINDOW), at("2026-05-01T02:00"), agg)
    assert (d.verdict, d.rule, d.warnings) == (Verdict.STOP, 1, ())


def test_stop_cancels_a_scheduled_run_and_refuses_a_finished_one():
    waiting = run(Job.EXTRACT, 4, by="manual", started=at("2026-05-01T06:31"), status=Status.SCHEDULED)
    assert decide_stop(options(), at("2026-05-01T06:32"), waiting).verdict is Verdict.CANCEL
    done = run(Job.EXTRACT, 5, started=at("2026-05-01T06:00"), ended=at("2026-05-01T06:05"))
    assert decide_stop(options(), at("2026-05-01T06:32"), done).verdict is Verdict.REFUSE


def test_stop_of_a_run_already_stopping_says_so():
    ext = run(Job.EXTRACT, 3, started=at("2026-05-01T06:30"), stop_requested=True)
    d = decide_stop(options(), at("2026-05-01T06:32"), ext)
    assert (d.verdict, d.message) == (Verdict.STOP, "Job_ExtractICON (run 3) is already stopping.")
