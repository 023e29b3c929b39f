"""Ctrl-C of `make run` (a worker's warm shutdown) must not wait forever for
the continuous aggregation job: the run ends STOPPED, with the reason."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from gimmanager.catalog import Job, Status
from gimmanager.jobs import services
from gimmanager.jobs.models import JobRun
from tests.conftest import WorkerProcess, wait_for
from tests.foundation.helpers import ALICE, always_in_aggregation_window

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_a_worker_shutdown_stops_its_runs_cleanly():
    own = WorkerProcess(connection.settings_dict["NAME"])
    try:
        always_in_aggregation_window()
        run = services.request_run(Job.AGGREGATE, by=ALICE).run
        wait_for(lambda: JobRun.objects.filter(pk=run.pk, attempt__isnull=False).exists(), 20, "pickup")
    finally:
        t0 = time.monotonic()
        own.stop()
    assert time.monotonic() - t0 < 10
    run.refresh_from_db()
    assert run.status == Status.STOPPED and "shut down" in run.end_reason
