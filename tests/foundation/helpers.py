from __future__ import annotations

from typing import Any

from gimmanager.catalog import Job, Status
from gimmanager.config.services import Changer, update_options
from gimmanager.jobs.models import JobRun
from gimmanager.jobs.services import Requester
from tests.conftest import wait_for

ALICE = Requester.cli("alice")
ADMIN = Changer(label="test", via="test")


def set_options(**schedule: str) -> None:
    """Set [schedule] options by field name: set_options(run_aggregates="true")."""
    update_options({"schedule": {k.replace("_", "-"): v for k, v in schedule.items()}}, by=ADMIN)


def wait_status(run: JobRun | int, *statuses: Status, timeout: float = 20) -> JobRun:
    pk = run if isinstance(run, int) else run.pk

    def check() -> Any:
        r = JobRun.objects.get(pk=pk)
        return r if r.status in statuses else None

    return wait_for(check, timeout, f"run {pk} to become {'/'.join(statuses)}")  # type: ignore[no-any-return]


def always_in_aggregation_window() -> None:
    # A window starting every minute and lasting a day: open at any instant. Such a
    # window starves maintenance, which the configuration check rightly refuses,
    # so scheduled maintenance is switched off.
    set_options(aggregate_schedule="* *", aggregate_duration="24:00", run_maintain="false")


def running(job: Job) -> JobRun | None:
    return JobRun.objects.filter(job=job, status=Status.RUNNING).first()
