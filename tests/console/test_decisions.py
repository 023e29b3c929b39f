"""Why didn't it run? The scheduler's recorded decisions next to the jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from gimmanager import clock
from gimmanager.catalog import Job, Status
from scheduler.models import SchedulerDecision
from tests.console.conftest import htmx, make_run

pytestmark = pytest.mark.django_db
URL = reverse("console:decisions")


def decision(job, action="wait", minutes=0, **kw):
    t = clock.now() - timedelta(minutes=minutes)
    return SchedulerDecision.objects.create(at=t - timedelta(minutes=5), last_at=t, job=job, action=action,
                                            rule=kw.pop("rule", 5), reason=kw.pop("reason", f"{job} {action}"), **kw)


def test_it_lists_decisions_newest_first_next_to_the_jobs(as_viewer):
    run = make_run(Job.MAINTAIN, Status.STOPPED)
    decision(Job.MAINTAIN.value, "wait", 30, count=12, reason="waiting for Job_TransformGIM to end")
    decision(Job.UPDATE_STATS.value, "skip", 5, rule=7, reason="maintenance runs: tick skipped")
    decision(Job.MAINTAIN.value, "stop", 1, rule=6, reason="ETL cycle due", run=run)
    body = as_viewer.get(URL).content.decode()
    assert body.index("ETL cycle due") < body.index("tick skipped") < body.index("waiting for Job_TransformGIM")
    assert "12 times since" in body and f"run {run.pk}" in body
    assert "Last decision:" in body  # in the jobs panel


def test_it_filters_by_job_and_decision(as_viewer):
    decision(Job.MAINTAIN.value, "wait", reason="maintenance waits")
    decision(Job.EXPORT.value, "skip", reason="export skipped")
    body = as_viewer.get(URL, {"job": "Job_ExportGIM"}, **htmx("decisions")).content.decode()
    assert "export skipped" in body and "maintenance waits" not in body and "<html" not in body
    body = as_viewer.get(URL, {"action": "wait"}).content.decode()
    assert "maintenance waits" in body and "<html" in body


def test_it_pages_by_cursor(as_viewer):
    for i in range(55):
        decision(Job.EXPORT.value, "skip", minutes=i, reason=f"tick {i:02d} skipped")
    first = as_viewer.get(URL).content.decode()
    assert "tick 00 skipped" in first and "tick 52 skipped" not in first
    after = first.split("after=")[1].split('"')[0]
    second = as_viewer.get(URL + "?after=" + after).content.decode()
    assert "tick 52 skipped" in second and "tick 49 skipped" not in second


def test_it_ignores_bad_filters(as_viewer):
    decision(Job.EXPORT.value, "skip", reason="export skipped")
    body = as_viewer.get(URL, {"job": "nope", "after": "garbage"}).content.decode()
    assert "export skipped" in body


def test_it_refuses_other_methods(as_admin):
    assert as_admin.post(URL).status_code == 405
