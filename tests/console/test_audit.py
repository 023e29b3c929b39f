"""Audit log: who ran, stopped, cancelled, re-aggregated or changed what, and when."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from gimmanager import clock
from gimmanager.catalog import Job, Status
from gimmanager.config.services import Changer, update_options
from gimmanager.jobs.models import ReaggregationRequest
from tests.console.conftest import htmx, make_run

pytestmark = pytest.mark.django_db
URL = reverse("console:audit")


@pytest.fixture
def history(personas):
    now = clock.now()
    ran = make_run(Job.EXTRACT, Status.COMPLETE, by="manual", requested_by="olga", requested=now - timedelta(hours=5))
    make_run(Job.TRANSFORM, Status.STOPPED, by="manual", requested_by="olga", requested=now - timedelta(hours=4),
             stop_requested_at=now - timedelta(hours=4), stop_requested_by="pete")
    agg = make_run(Job.AGGREGATE, Status.RUNNING, requested=now - timedelta(hours=3))
    ReaggregationRequest.objects.create(run=agg, params="-insertPendingAgg ALLSETS:2026-01-01:2026-01-02",
                                        agg_set="ALLSETS", start_date="2026-01-01", end_date="2026-01-02",
                                        requested_by="quinn", requested_at=now - timedelta(hours=2))
    update_options({"schedule": {"run-scheduler": "true"}}, by=Changer.of_user(personas["admin"], "console"))
    make_run(Job.EXTRACT, Status.COMPLETE, requested=now - timedelta(hours=1))  # the scheduler's: not audited
    return ran


def test_it_lists_every_kind_of_action_newest_first(as_viewer, history):
    body = as_viewer.get(URL).content.decode()
    order = ["[schedule] run-scheduler: &#x27;false&#x27; → &#x27;true&#x27;", "re-aggregation ALLSETS",
             "cancelled the scheduled Job_TransformGIM", "ran Job_TransformGIM", "ran Job_ExtractICON"]
    positions = [body.index(text) for text in order]
    assert positions == sorted(positions)
    assert "via console" in body and body.count("ran Job_ExtractICON") == 1


def test_it_filters_by_kind_and_person(as_viewer, history):
    body = as_viewer.get(URL, {"kind": "stop"}, **htmx("audit")).content.decode()
    assert "cancelled the scheduled Job_TransformGIM" in body and "ran Job" not in body and "<html" not in body
    body = as_viewer.get(URL, {"who": "quinn"}).content.decode()
    assert "re-aggregation ALLSETS" in body and "ran Job" not in body


def test_it_pages_without_losing_events_of_the_same_instant(as_viewer):
    t = clock.now()
    for _ in range(60):
        make_run(Job.EXTRACT, Status.COMPLETE, by="manual", requested_by="sam", requested=t)
    first = as_viewer.get(URL)
    after = first.context["after"]
    second = as_viewer.get(URL, {"after": after})
    ids = [e.pk for e in first.context["rows"]] + [e.pk for e in second.context["rows"]]
    assert len(ids) == 60 == len(set(ids))


def test_it_refuses_other_methods(as_admin):
    assert as_admin.post(URL).status_code == 405
