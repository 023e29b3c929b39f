"""SIGKILL of the worker process in the middle of Job_ExtractICON, Job_TransformGIM and
Job_ExportGIM, on a real Celery worker: after the next successful run the data are
those of an undisturbed run."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from django.conf import settings

from gimmanager import clock
from gimmanager.catalog import Job, Status
from gimmanager.config.services import Changer, current_values, update_options
from gimmanager.jobs import services
from gimmanager.jobs.models import JobRun
from infomart import sql
from tests.conftest import wait_for
from tests.foundation.helpers import ALICE, wait_status
from tests.infomart import helpers as h

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def options(**kv: str) -> None:
    changes: dict[str, dict[str, str]] = {}
    for key, value in kv.items():
        section, name = key.split("__")
        changes.setdefault(section.replace("_", "-"), {})[name.replace("_", "-")] = value
    update_options(changes, by=Changer(label="test", via="test"))


def start(job: Job) -> JobRun:
    if job is Job.EXPORT:  # the Manager cannot run it (seed): start it as the scheduler does
        return services.start_for_scheduler(job, now=clock.now()).run
    return services.request_run(job, by=ALICE).run


def kill_half_way(job: Job) -> JobRun:
    """Start the job on the worker, SIGKILL its process once it is between 10 % and 80 % done."""
    run = start(job)
    run = wait_for(lambda: JobRun.objects.filter(pk=run.pk, status=Status.RUNNING, attempt__isnull=False,
                                                 progress_total__gt=0).first(), 30, f"{job} to start")
    run = wait_for(lambda: (lambda r: r if r.progress_done * 10 >= r.progress_total else None)(
        JobRun.objects.get(pk=run.pk)), 60, f"{job} to be 10 % done", interval=0.02)
    os.kill(int(run.worker.rsplit(":", 1)[1]), signal.SIGKILL)
    assert run.status == Status.RUNNING and run.progress_done < 0.8 * run.progress_total, \
        "the job should be killed in the middle of its work"
    wait_for(lambda: services.sweep() and JobRun.objects.get(pk=run.pk).status == Status.FAILED,
             settings.GIM_HEARTBEAT_TIMEOUT + 15, "the killed run to be declared lost", interval=0.3)
    return run


def run_to_completion(job: Job) -> JobRun:
    return wait_status(start(job), Status.COMPLETE, timeout=120)


@pytest.fixture
def traffic():
    options(schedule__timezone=h.NY, gim_etl__days_to_keep_active_facts="3650")
    h.generate(days=2)


def test_a_killed_extraction_loses_and_doubles_nothing(worker, traffic):
    h.etl(current_values())
    expected = h.mart_snapshot()
    h.reset_mart()
    options(gim_etl__extract_data_chunk_size="40")  # many small chunks: killed in the middle
    killed = kill_half_way(Job.EXTRACT)
    assert sql.scalar("SELECT COUNT(*) FROM ctl_extract_history WHERE job_id = %s", [str(killed.pk)]) > 0
    run_to_completion(Job.EXTRACT)
    run_to_completion(Job.TRANSFORM)
    assert h.mart_snapshot() == expected


def test_a_killed_transformation_loses_and_doubles_nothing(worker, traffic):
    h.etl(current_values())
    expected = h.mart_snapshot()
    h.reset_mart()
    h.run_job(Job.EXTRACT, current_values())
    options(gim_etl__extract_data_chunk_size="20")
    killed = kill_half_way(Job.TRANSFORM)
    assert sql.scalar("SELECT COUNT(*) FROM ctl_transform_history WHERE job_id = %s", [str(killed.pk)]) > 0
    run_to_completion(Job.TRANSFORM)
    assert h.mart_snapshot() == expected


def test_a_killed_export_leaves_no_partial_folder_and_ends_as_an_undisturbed_one(worker, traffic, tmp_path):
    from tests.infomart.test_export import folders, verify

    a, b = tmp_path / "a", tmp_path / "b"
    options(gim_export__chunk_size_seconds="600", gim_export__thread_pool_size="1",
            gim_export__output_directory=str(a), schedule__run_export="true")
    h.etl(current_values())
    h.run_job(Job.EXPORT, current_values())
    expected = snapshot(a)
    sql.execute("DELETE FROM ctl_export_history")
    sql.execute("DELETE FROM ctl_export_run")
    options(gim_export__output_directory=str(b))
    kill_half_way(Job.EXPORT)
    partial = folders(b)
    assert 0 < len(partial) < len(expected)
    for folder in partial:
        verify(folder)  # whatever is visible is whole
    run_to_completion(Job.EXPORT)
    assert snapshot(b) == expected
    assert not [p for p in b.iterdir() if not p.name.startswith("export_")]  # leftovers cleaned


def snapshot(out: Path) -> dict[str, dict[str, bytes]]:
    return {p.name: {f.name: f.read_bytes() for f in p.iterdir() if f.suffix == ".csv"}
            for p in sorted(out.iterdir()) if p.name.startswith("export_")}
