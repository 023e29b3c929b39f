"""The live beat adapter, one step at a time on a frozen clock (STYLE 16):
lease, restart safety, decision records, options read at every tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gimmanager.catalog import Job, Status
from gimmanager.clock import FrozenClock
from gimmanager.celery import app
from gimmanager.jobs import services
from gimmanager.jobs.models import JobRun
from scheduler.beat import GimScheduler
from scheduler.models import SchedulerDecision, SchedulerMemory
from tests.foundation.helpers import set_options

pytestmark = pytest.mark.django_db

SAMPLE = dict(run_scheduler="true", etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30",
              maintain_start_time="03:00", run_maintain="true")
T0 = datetime(2026, 5, 1, 6, 30, tzinfo=UTC)


@pytest.fixture
def enqueued(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(services, "_enqueue_on_commit", lambda run: calls.append(run.pk))
    return calls


def beat(name: str = "a", at: datetime = T0) -> GimScheduler:
    return GimScheduler(app=app, clock=FrozenClock(at), holder=name)


def finish(job: Job, at: datetime) -> None:
    run = JobRun.objects.get(job=job, status=Status.RUNNING)
    JobRun.objects.filter(pk=run.pk).update(status=Status.COMPLETE, ended_at=at)


def test_it_starts_the_first_etl_cycle_at_etl_start_time(enqueued):
    set_options(**SAMPLE)
    delay = beat().run_once(T0)
    run = JobRun.objects.get()
    assert (run.job, run.status, run.by, run.requested_by) == (Job.EXTRACT, Status.RUNNING, "scheduler", "scheduler")
    assert enqueued == [run.pk] and 0 < delay <= 1.0


def test_it_starts_transform_after_extract_completes_as_part_of_the_cycle(enqueued):
    set_options(**SAMPLE)
    s = beat()
    s.run_once(T0)
    extract = JobRun.objects.get(job=Job.EXTRACT)
    finish(Job.EXTRACT, T0 + timedelta(minutes=4))
    s.run_once(T0 + timedelta(minutes=4, seconds=1))
    transform = JobRun.objects.get(job=Job.TRANSFORM)
    assert transform.parent_id == extract.pk and transform.by == "scheduler"


def test_it_launches_nothing_while_run_scheduler_is_false(enqueued):
    set_options(**{**SAMPLE, "run_scheduler": "false"})
    beat().run_once(T0)
    assert not JobRun.objects.exists() and enqueued == []


def test_option_changes_take_effect_at_the_next_tick(enqueued):
    set_options(**{**SAMPLE, "run_scheduler": "false"})
    s = beat()
    s.run_once(T0)
    set_options(run_scheduler="true")
    s.run_once(T0 + timedelta(seconds=1))
    assert JobRun.objects.filter(job=Job.EXTRACT, status=Status.RUNNING).count() == 1


def test_only_the_lease_holder_acts_when_two_schedulers_run(enqueued):
    set_options(**SAMPLE)
    a, b = beat("a"), beat("b")
    b_first = b.run_once(T0)  # b takes the lease first here
    a.run_once(T0)
    for k in range(1, 30):
        a.run_once(T0 + timedelta(seconds=k))
        b.run_once(T0 + timedelta(seconds=k))
    assert JobRun.objects.count() == 1 and b_first <= 1.0
    # a takes over only once b's lease has expired.
    later = T0 + timedelta(minutes=5)
    assert not a.take_lease(T0 + timedelta(seconds=30))
    assert a.take_lease(later)


def test_a_restarted_scheduler_does_not_repeat_the_cycle(enqueued):
    set_options(**SAMPLE)
    beat("first").run_once(T0)
    finish(Job.EXTRACT, T0 + timedelta(minutes=2))
    # A new process (new holder), after the old lease expired: it rebuilds from the database.
    again = beat("second")
    again.run_once(T0 + timedelta(seconds=15))
    again.run_once(T0 + timedelta(seconds=16))
    assert JobRun.objects.filter(job=Job.EXTRACT).count() == 1
    assert JobRun.objects.filter(job=Job.TRANSFORM).count() == 1
    assert SchedulerMemory.objects.get().data["cycle_started_at"].startswith("2026-05-01T06:30")


def test_missed_update_stats_ticks_are_coalesced_after_downtime(enqueued):
    set_options(**{**SAMPLE, "run_update_stats": "true", "update_stats_schedule": "0/10 *"})
    s = beat()
    s.run_once(T0)
    s.run_once(T0 + timedelta(minutes=1))
    # Down for an hour: six fire times passed; one run at most when it comes back.
    s.run_once(T0 + timedelta(hours=1, minutes=5))
    assert JobRun.objects.filter(job=Job.UPDATE_STATS).count() == 1


def test_configuration_errors_refuse_launches_and_are_recorded_once(enqueued):
    set_options(**{**SAMPLE, "maintain_start_time": "07:00"})
    s = beat()
    s.run_once(T0)
    s.run_once(T0 + timedelta(seconds=1))
    assert not JobRun.objects.exists()
    rec = SchedulerDecision.objects.get(job=Job.EXTRACT)
    assert rec.action == "refuse" and "maintain-start-time" in rec.reason
    assert rec.count >= 1


def test_sweep_runs_on_every_tick_even_when_the_scheduler_is_paused(enqueued):
    set_options(**{**SAMPLE, "run_scheduler": "false"})
    stale = T0 - timedelta(minutes=5)
    JobRun.objects.create(job=Job.EXTRACT, status=Status.RUNNING, by="manual", requested_by="bob",
                          requested_at=stale, started_at=stale, attempt="00000000-0000-0000-0000-00000000000a",
                          heartbeat_at=stale, worker="gone:1")
    beat().run_once(T0)
    run = JobRun.objects.get()
    assert run.status == Status.FAILED and "stopped sending heartbeats" in run.end_reason
