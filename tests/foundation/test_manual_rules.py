"""Manual job-control rules 1-7, through the service, on a real Celery worker
with PostgreSQL and Redis."""

from __future__ import annotations

import pytest

from gimmanager.catalog import Job, Status
from gimmanager.jobs import services
from gimmanager.jobs.models import JobRun, ReaggregationRequest
from tests.foundation.helpers import ALICE, always_in_aggregation_window, set_options, wait_status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_it_runs_a_job_to_complete_on_a_worker(worker):
    out = services.request_run(Job.EXTRACT, by=ALICE)
    assert out.kind == "started"
    run = wait_status(out.run, Status.COMPLETE)
    assert run.worker and run.heartbeat_at and run.ended_at >= run.started_at
    assert run.requested_by == "alice" and run.by == "manual"
    assert run.log_entries.filter(message__contains="completed").exists()


def test_rule1_request_while_running_becomes_scheduled_and_starts_later(worker):
    # Hold Job_ExtractICON in RUNNING without a worker by inserting the row directly,
    # as a run a busy worker has claimed.
    from gimmanager import clock

    now = clock.now()
    held = JobRun.objects.create(job=Job.EXTRACT, status=Status.RUNNING, by="manual", requested_by="bob",
                                 requested_at=now, started_at=now, attempt="00000000-0000-0000-0000-000000000001",
                                 heartbeat_at=now)
    out = services.request_run(Job.EXTRACT, by=ALICE)
    assert out.kind == "scheduled" and out.run.status == Status.SCHEDULED
    assert "already running" in out.message
    again = services.request_run(Job.EXTRACT, by=ALICE)
    assert again.kind == "refused" and "already SCHEDULED" in again.message
    # The held run ends: the scheduled request starts and runs on the worker.
    assert services.finish_run(held.pk, held.attempt, Status.COMPLETE)
    wait_status(out.run, Status.COMPLETE)


def test_rule2_transform_may_run_while_extract_runs(worker):
    from gimmanager import clock

    now = clock.now()
    JobRun.objects.create(job=Job.EXTRACT, status=Status.RUNNING, by="manual", requested_by="bob",
                          requested_at=now, started_at=now, attempt="00000000-0000-0000-0000-000000000002",
                          heartbeat_at=now)
    out = services.request_run(Job.TRANSFORM, by=ALICE)
    assert out.kind == "started"
    wait_status(out.run, Status.COMPLETE)


def test_rule3_manual_maintenance_runs_beside_other_jobs_with_a_warning(worker):
    always_in_aggregation_window()
    agg = services.request_run(Job.AGGREGATE, by=ALICE).run
    wait_status(agg, Status.RUNNING)
    out = services.request_run(Job.MAINTAIN, by=ALICE)
    assert out.kind == "started"
    assert out.warnings and "deadlock" in out.warnings[0] and "Job_AggregateGIM" in out.warnings[0]
    wait_status(out.run, Status.COMPLETE)
    services.stop_run(agg.pk, by=ALICE)
    wait_status(agg, Status.STOPPED)


def test_rule3_no_warning_when_nothing_else_runs_and_schedules_are_off(worker):
    out = services.request_run(Job.MAINTAIN, by=ALICE)
    assert out.kind == "started" and out.warnings == ()
    wait_status(out.run, Status.COMPLETE)


def test_rule4_aggregation_by_hand_refused_while_run_aggregates_true(worker):
    always_in_aggregation_window()
    set_options(run_aggregates="true")
    out = services.request_run(Job.AGGREGATE, by=ALICE)
    assert out.kind == "refused" and "run-aggregates" in out.message
    assert not JobRun.objects.exists()


def test_rule4_aggregation_by_hand_refused_outside_its_window(worker):
    set_options(aggregate_schedule="0 1", aggregate_duration="00:01")
    from datetime import UTC, datetime

    out = services.request_run(Job.AGGREGATE, by=ALICE, now=datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
    assert out.kind == "refused" and "outside its configured window" in out.message


def test_rule4_aggregation_runs_continuously_until_stopped(worker):
    always_in_aggregation_window()
    run = services.request_run(Job.AGGREGATE, by=ALICE).run
    run = wait_status(run, Status.RUNNING)
    # Still running after several heartbeats: it does not end by itself inside the window.
    from tests.conftest import wait_for

    wait_for(lambda: JobRun.objects.get(pk=run.pk).log_entries.exists(), 10, "the first log line")
    assert JobRun.objects.get(pk=run.pk).status == Status.RUNNING
    out = services.stop_run(run.pk, by=ALICE)
    assert out.kind == "stopping" and out.warnings == ()
    wait_status(run, Status.STOPPED, timeout=10)


def test_rule5_reaggregation_is_handed_to_the_running_instance(worker):
    always_in_aggregation_window()
    run = wait_status(services.request_run(Job.AGGREGATE, by=ALICE).run, Status.RUNNING)
    out = services.request_run(Job.AGGREGATE, by=ALICE, params="-insertPendingAgg H_QUEUE-HOUR:2026-05-01:2026-05-02")
    assert out.kind == "handed_over" and out.run.pk == run.pk
    assert JobRun.objects.filter(job=Job.AGGREGATE).count() == 1  # no second instance
    req = ReaggregationRequest.objects.get()
    assert (req.agg_set, str(req.start_date), str(req.end_date)) == ("H_QUEUE-HOUR", "2026-05-01", "2026-05-02")
    from tests.conftest import wait_for

    wait_for(lambda: ReaggregationRequest.objects.get().state == "done", 10, "the running job to take it")
    services.stop_run(run.pk, by=ALICE)
    wait_status(run, Status.STOPPED)


def test_rule5_reaggregation_without_running_aggregation_starts_it_and_ignores_params(worker):
    always_in_aggregation_window()
    out = services.request_run(Job.AGGREGATE, by=ALICE, params="-insertPendingAgg ALLSETS:2026-05-01:2026-05-31")
    assert out.kind == "started"
    assert "ignores the re-aggregation parameters" in out.message
    assert out.run.params == "" and not ReaggregationRequest.objects.exists()
    services.stop_run(out.run.pk, by=ALICE)
    wait_status(out.run, Status.STOPPED)


@pytest.mark.parametrize("params, fragment", [
    ("-insertPendingAgg H_NOPE-HOUR:2026-05-01:2026-05-02", "unknown hierarchy H_NOPE"),
    ("-insertPendingAgg H_QUEUE-HOUR:2026-05-02:2026-05-01", "must be before END"),
    ("-insertPendingAgg H_QUEUE-WEEK:2026-05-01:2026-05-02", "unknown level WEEK"),
    ("-insertPendingAgg H_QUEUE-HOUR.Both:2026-05-01:2026-05-02", "unknown flavor Both"),
    ("-insertPendingAgg H_QUEUE-HOUR:2026-5-1:2026-05-02", "START must be a date YYYY-MM-DD"),
    ("-insertPendingAgg", "needs a value"),
    ("--bogus", "expected -insertPendingAgg"),
])
def test_rule5_bad_reaggregation_parameters_are_refused_with_the_reason(worker, params, fragment):
    always_in_aggregation_window()
    out = services.request_run(Job.AGGREGATE, by=ALICE, params=params)
    assert out.kind == "refused" and fragment in out.message
    assert not JobRun.objects.exists()


def test_parameters_for_other_jobs_are_refused(worker):
    out = services.request_run(Job.EXTRACT, by=ALICE, params="-fast")
    assert out.kind == "refused" and "takes no parameters" in out.message


@pytest.mark.parametrize("job", [Job.UPDATE_STATS, Job.EXPORT])
def test_rule6_update_stats_and_export_cannot_be_run_by_hand(worker, job):
    out = services.request_run(job, by=ALICE)
    assert out.kind == "refused" and "cannot be run from the Manager" in out.message
    assert not JobRun.objects.exists()


def test_rule7_stopping_scheduler_owned_aggregation_warns_of_restart(worker):
    always_in_aggregation_window()
    set_options(run_aggregates="true", run_scheduler="true")
    # The scheduler started it (run-aggregates = true): start it as the scheduler does.
    run = services.start_for_scheduler(Job.AGGREGATE, now=__import__("gimmanager.clock").clock.now()).run
    wait_status(run, Status.RUNNING)
    out = services.stop_run(run.pk, by=ALICE)
    assert out.kind == "stopping" and "will restart" in out.warnings[0]
    wait_status(run, Status.STOPPED)


def test_configuration_errors_block_every_manual_start(worker):
    set_options(maintain_start_time="07:00")  # inside the default ETL window 06:00-02:00
    out = services.request_run(Job.EXTRACT, by=ALICE)
    assert out.kind == "refused" and "maintain-start-time" in out.message
    assert not JobRun.objects.exists()


def test_cancel_a_scheduled_run_leaves_the_pending_list_and_records_who(worker):
    from gimmanager import clock

    now = clock.now()
    JobRun.objects.create(job=Job.TRANSFORM, status=Status.RUNNING, by="manual", requested_by="bob",
                          requested_at=now, started_at=now, attempt="00000000-0000-0000-0000-000000000003",
                          heartbeat_at=now)
    waiting = services.request_run(Job.TRANSFORM, by=ALICE).run
    out = services.stop_run(waiting.pk, by=ALICE)
    assert out.kind == "cancelled"
    waiting.refresh_from_db()
    assert waiting.status == Status.STOPPED and waiting.started_at is None
    assert "cancelled by alice" in waiting.end_reason
    assert not JobRun.objects.filter(status=Status.SCHEDULED).exists()
    assert services.cancel_run(waiting.pk, by=ALICE).kind == "refused"
