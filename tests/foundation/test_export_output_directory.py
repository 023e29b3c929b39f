"""A missing or read-only [gim-export] output-directory is an error for Job_ExportGIM only:
Run Job, the worker's check and the scheduler refuse the export and name the option, while
the five other jobs still run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from gimmanager.catalog import Job, Status
from gimmanager.celery import app
from gimmanager.clock import FrozenClock
from gimmanager.config.services import configuration_errors, configuration_problems, update_options
from gimmanager.jobs import runner, services
from gimmanager.jobs.models import JobRun
from scheduler.beat import GimScheduler
from scheduler.models import SchedulerDecision
from tests.foundation.helpers import ADMIN, ALICE, set_options

OPTION = "[gim-export] output-directory"
T0 = datetime(2026, 5, 1, 6, 30, tzinfo=UTC)


@pytest.fixture
def unwritable_output(db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # A folder whose parent does not exist: "cannot be created" even for root (tests may run as root).
    out = tmp_path / "missing" / "deeper" / "out"
    update_options({"gim-export": {"output-directory": str(out)}}, by=ADMIN)
    set_options(run_export="true", run_scheduler="true", etl_start_time="06:30", etl_end_time="00:30",
                etl_frequency="30", maintain_start_time="03:00", export_schedule="31 6")
    monkeypatch.setattr(services, "_enqueue_on_commit", lambda run: None)  # no worker needed
    return out


def test_it_is_an_error_scoped_to_the_export(unwritable_output: Path) -> None:
    [problem] = [p for p in configuration_problems() if p.level == "error"]
    assert problem.option == OPTION and problem.jobs == (Job.EXPORT,)
    assert configuration_errors() == [] and configuration_errors(job=Job.TRANSFORM) == []
    assert configuration_errors(job=Job.EXPORT) == [str(problem)]


@pytest.mark.django_db
def test_run_job_starts_transform_and_refuses_export_naming_the_option(unwritable_output: Path) -> None:
    out = services.request_run(Job.TRANSFORM, by=ALICE)
    assert out.kind == "started" and out.run.status == Status.RUNNING
    refused = services.request_run(Job.EXPORT, by=ALICE)
    assert refused.kind == "refused" and OPTION in refused.message and "Job_ExportGIM cannot start" in refused.message


@pytest.mark.django_db(transaction=True)  # the runner's heartbeat thread has its own connection
def test_the_worker_runs_transform_and_fails_export_naming_the_option(unwritable_output: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "body_for", lambda job: lambda ctx: None)
    transform = services.request_run(Job.TRANSFORM, by=ALICE).run
    assert runner.execute(transform.pk) == Status.COMPLETE
    export = services.start_for_scheduler(Job.EXPORT, now=T0).run
    assert runner.execute(export.pk) == Status.FAILED
    export.refresh_from_db()
    assert OPTION in export.end_reason


def test_the_scheduler_starts_the_etl_cycle_and_refuses_the_export(unwritable_output: Path) -> None:
    beat = GimScheduler(app=app, clock=FrozenClock(T0), holder="a")
    beat.run_once(T0)
    beat.run_once(T0 + timedelta(minutes=1))  # export-schedule fires at 06:31
    assert list(JobRun.objects.values_list("job", flat=True)) == [Job.EXTRACT]
    refusal = SchedulerDecision.objects.get(job=Job.EXPORT)
    assert refusal.action == "refuse" and refusal.rule == 12 and OPTION in refusal.reason


def test_the_pages_show_it_as_an_error_for_the_export(unwritable_output: Path, personas: dict[str, Any]) -> None:
    c = Client()
    c.force_login(personas["admin"])
    page = c.get("/config/").content.decode()
    assert "output-directory" in page and "Job_ExportGIM cannot run" in page
    home = c.get("/").content.decode()
    assert "Job_ExportGIM cannot start until they are fixed" in home and "no job can start" not in home
