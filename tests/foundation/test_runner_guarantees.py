"""The runner's promises on a real worker: stop within a bound and leave no
partial work, a killed worker's run becomes FAILED within the heartbeat bound,
redelivered messages never start a second copy, terminal states are final."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from django.conf import settings
from django.db import connection

from gimmanager import clock
from gimmanager.catalog import Job, Status
from gimmanager.jobs import services
from gimmanager.jobs.models import JobRun
from gimmanager.jobs.tasks import run_job
from tests.conftest import wait_for
from tests.foundation.helpers import ALICE, wait_status
from tests.job_bodies import TABLE, ensure_table

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture(scope="module")
def worker_env() -> dict[str, str]:
    return {"GIM_JOB_BODIES": json.dumps({
        "Job_ExtractICON": "tests.job_bodies.one_transaction",
        "Job_TransformGIM": "tests.job_bodies.stuck_in_sql",
    })}


@pytest.fixture(autouse=True)
def scratch_table(db):
    ensure_table()
    yield
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")


def rows_of(run: JobRun) -> int:
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {TABLE} WHERE run_id = %s", [run.pk])
        return cur.fetchone()[0]


def started(job: Job) -> JobRun:
    run = services.request_run(job, by=ALICE).run
    return wait_for(lambda: JobRun.objects.filter(pk=run.pk, attempt__isnull=False, progress_done__gt=0).first(),
                    20, f"{job} to be claimed and making progress")


def test_it_completes_the_whole_transaction_when_undisturbed(worker):
    run = services.request_run(Job.EXTRACT, by=ALICE).run
    run = wait_status(run, Status.COMPLETE, timeout=60)
    assert rows_of(run) == 2000 and run.progress_done == 2000


def test_stop_ends_a_running_job_stopped_within_bound_and_rolls_back_its_work(worker):
    run = started(Job.EXTRACT)
    t0 = time.monotonic()
    out = services.stop_run(run.pk, by=ALICE)
    assert out.kind == "stopping"
    run = wait_status(run, Status.STOPPED, timeout=10)
    # Bound: one heartbeat interval to notice, plus one row of work to reach a safe point.
    assert time.monotonic() - t0 < settings.GIM_HEARTBEAT_INTERVAL + 2
    assert rows_of(run) == 0
    assert "stopped by alice" in run.end_reason
    assert run.log_entries.filter(message__contains="rolled back").exists()


def test_a_job_that_cannot_stop_is_terminated_after_the_grace_period(worker):
    run = started(Job.TRANSFORM)
    services.stop_run(run.pk, by=ALICE)
    t0 = time.monotonic()
    # The scheduler's tick runs sweep every second; here the test plays the scheduler.
    wait_for(lambda: services.sweep() and JobRun.objects.get(pk=run.pk).status == Status.STOPPED,
             settings.GIM_STOP_GRACE + 10, "the stop to be forced", interval=0.3)
    assert time.monotonic() - t0 < settings.GIM_STOP_GRACE + 3
    run.refresh_from_db()
    assert "worker process was terminated" in run.end_reason
    # Terminating the worker process closed its connection: the open transaction rolled back.
    wait_for(lambda: rows_of(run) == 0 and not _busy_backends(), 10, "the killed transaction to roll back")
    # The worker replaced its process and runs the next job.
    again = services.request_run(Job.EXTRACT, by=ALICE).run
    wait_status(again, Status.COMPLETE, timeout=60)


def _busy_backends() -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%%' AND state = 'active'")
        return cur.fetchone()[0] > 0


def test_a_worker_killed_with_sigkill_leaves_a_failed_run_within_the_bound(worker):
    run = started(Job.EXTRACT)
    pid = int(run.worker.rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    killed_at = clock.now()
    wait_for(lambda: services.sweep() and JobRun.objects.get(pk=run.pk).status == Status.FAILED,
             settings.GIM_HEARTBEAT_TIMEOUT + 10, "the lost run to be failed", interval=0.3)
    run.refresh_from_db()
    # Bound: heartbeat timeout after the last heartbeat, plus one sweep.
    assert (run.ended_at - killed_at).total_seconds() < settings.GIM_HEARTBEAT_TIMEOUT + 2
    assert "stopped sending heartbeats" in run.end_reason
    assert rows_of(run) == 0
    # The job can run again, on the worker's replacement process.
    again = services.request_run(Job.EXTRACT, by=ALICE).run
    again = wait_status(again, Status.COMPLETE, timeout=60)
    assert rows_of(again) == 2000


def test_a_redelivered_message_never_starts_a_second_copy(worker):
    run = services.request_run(Job.EXTRACT, by=ALICE).run
    for _ in range(3):  # as Redis would after a visibility timeout, or a retry
        run_job.apply_async((run.pk,))
    run = wait_status(run, Status.COMPLETE, timeout=60)
    assert rows_of(run) == 2000  # a second execution would have hit the primary key
    assert run.log_entries.filter(message__contains="started on").count() == 1


def test_a_stopped_run_never_turns_complete(worker):
    run = started(Job.EXTRACT)
    # Force the end elsewhere (as a forced stop does) while the worker is still busy.
    JobRun.objects.filter(pk=run.pk).update(status=Status.STOPPED, ended_at=clock.now(), end_reason="forced")
    # The worker's heartbeat finds the run no longer its own and stops its work (no zombie).
    wait_for(lambda: not JobRun.objects.filter(pk=run.pk, heartbeat_at__gt=clock.now()).exists()
             and rows_of(run) == 0, 10, "the zombie to give up")
    time_limit = time.monotonic() + 3 * settings.GIM_HEARTBEAT_INTERVAL
    while time.monotonic() < time_limit:
        assert JobRun.objects.get(pk=run.pk).status == Status.STOPPED
        time.sleep(0.1)
    assert not services.finish_run(run.pk, run.attempt, Status.COMPLETE)
    assert JobRun.objects.get(pk=run.pk).status == Status.STOPPED

