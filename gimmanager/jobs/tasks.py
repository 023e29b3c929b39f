"""The Celery task behind every job (a wake-up call for one JobRun row), and
the worker-shutdown hook that stops this worker's runs cleanly."""

from __future__ import annotations

import os
from typing import Any

from celery import Task
from celery.signals import worker_shutting_down

from gimmanager.celery import app
from gimmanager.jobs import runner


@app.task(name="gim.run_job", bind=True, ignore_result=True, acks_late=False)
def run_job(self: Task, run_id: int) -> str | None:
    # "node@host:pid": the node name lets the worker's main process find its own
    # runs at shutdown; the pid is the pool process executing the job.
    status = runner.execute(run_id, worker=f"{self.request.hostname or runner.worker_name()}:{os.getpid()}")
    return status.value if status else None


@worker_shutting_down.connect
def stop_runs_of_this_worker(sender: str | None = None, **kwargs: Any) -> None:
    """A warm shutdown waits for running tasks, and Job_AggregateGIM never ends
    by itself: ask this worker's runs to stop at their next safe point, so
    Ctrl-C (or a deploy) ends them STOPPED, with the reason, within seconds."""
    from gimmanager import clock
    from gimmanager.catalog import Status
    from gimmanager.jobs.models import JobRun

    if not sender:
        return
    JobRun.objects.filter(status=Status.RUNNING, worker__startswith=f"{sender}:",
                          stop_requested_at__isnull=True).update(
        stop_requested_at=clock.now(), stop_requested_by=f"worker {sender}",
        end_reason=f"stopped because worker {sender} shut down")
