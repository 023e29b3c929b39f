"""At most one RUNNING (and one SCHEDULED) instance of a job, enforced by the database."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from gimmanager import clock
from gimmanager.catalog import Job, Status
from gimmanager.jobs import services
from gimmanager.jobs.models import JobRun
from tests.foundation.helpers import ALICE

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch):
    # These tests race the database, not the workers.
    monkeypatch.setattr(services, "_enqueue_on_commit", lambda run: None)


def test_the_database_refuses_a_second_running_row():
    now = clock.now()
    JobRun.objects.create(job=Job.EXTRACT, status=Status.RUNNING, by="manual", requested_by="a",
                          requested_at=now, started_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        JobRun.objects.create(job=Job.EXTRACT, status=Status.RUNNING, by="manual", requested_by="b",
                              requested_at=now, started_at=now)


def test_the_database_refuses_an_impossible_status_and_times():
    now = clock.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        JobRun.objects.create(job=Job.EXTRACT, status=Status.COMPLETE, by="manual", requested_by="a",
                              requested_at=now, started_at=now)  # COMPLETE without an end


@pytest.mark.parametrize("round_", range(15))
def test_racing_requests_start_one_instance_and_schedule_one(round_):
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def racer(scheduler: bool) -> None:
        try:
            barrier.wait()
            out = (services.start_for_scheduler(Job.TRANSFORM, now=clock.now()) if scheduler
                   else services.request_run(Job.TRANSFORM, by=ALICE))
            with lock:
                outcomes.append(out.kind)
        finally:
            connection.close()

    threads = [threading.Thread(target=racer, args=(i % 2 == 0,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert JobRun.objects.filter(job=Job.TRANSFORM, status=Status.RUNNING).count() == 1
    assert JobRun.objects.filter(job=Job.TRANSFORM, status=Status.SCHEDULED).count() <= 1
    assert outcomes.count("started") == 1
    assert len(outcomes) == 8 and set(outcomes) <= {"started", "scheduled", "refused"}
