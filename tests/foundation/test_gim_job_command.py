"""`gim_job`: the command line drives the same service as the console."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from gimmanager import clock
from gimmanager.catalog import Job, Status
from gimmanager.jobs.models import JobRun
from tests.foundation.helpers import always_in_aggregation_window

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def gim_job(*args: str) -> str:
    out = StringIO()
    call_command("gim_job", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_runs_and_waits_exit_zero_on_complete(worker):
    out = gim_job("run", "Job_ExtractICON", "--wait", "--timeout", "30")
    assert "started" in out and "COMPLETE" in out


def test_it_exits_non_zero_with_the_reason_when_the_run_is_stopped(worker):
    always_in_aggregation_window()
    import threading

    def stop_soon() -> None:
        from tests.conftest import wait_for

        run = wait_for(lambda: JobRun.objects.filter(job=Job.AGGREGATE, status=Status.RUNNING,
                                                     attempt__isnull=False).first(), 20, "aggregation")
        gim_job("stop", "Job_AggregateGIM")
        from django.db import connection

        connection.close()
        return run

    t = threading.Thread(target=stop_soon)
    t.start()
    with pytest.raises(CommandError) as exc:
        gim_job("run", "job_aggregategim", "--wait", "--timeout", "30")
    t.join()
    assert exc.value.returncode == 2 and "STOPPED" in str(exc.value)


def test_refusals_exit_non_zero_with_the_reason(worker):
    with pytest.raises(CommandError, match="cannot be run from the Manager"):
        gim_job("run", "Job_ExportGIM")
    with pytest.raises(CommandError, match="unknown job"):
        gim_job("run", "Job_Nope")


def test_cancel_and_list(worker):
    now = clock.now()
    JobRun.objects.create(job=Job.TRANSFORM, status=Status.RUNNING, by="manual", requested_by="bob",
                          requested_at=now, started_at=now, attempt="00000000-0000-0000-0000-000000000009",
                          heartbeat_at=now)
    out = gim_job("run", "Job_TransformGIM")
    assert out.startswith("scheduled")
    waiting = JobRun.objects.get(status=Status.SCHEDULED)
    assert "cancelled" in gim_job("cancel", str(waiting.pk))
    rows = json.loads(gim_job("list", "--json", "--job", "Job_TransformGIM"))
    assert [r["status"] for r in rows] == ["STOPPED", "RUNNING"]
    assert rows[0]["reason"].startswith("cancelled by cli:")
    assert "Job_TransformGIM" in gim_job("list", "--status", "RUNNING")
