"""Job detail: status, progress and time left, the live log (286 at the end), the cycle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from gimmanager import clock
from gimmanager.catalog import Job, Status
from gimmanager.jobs.models import JobLogEntry, ReaggregationRequest
from tests.console.conftest import htmx, make_run

pytestmark = pytest.mark.django_db


def url(run, name="console:run-detail"):
    return reverse(name, args=[run.pk])


def log(run, *lines):
    return [JobLogEntry.objects.create(run=run, at=clock.now(), message=m) for m in lines]


def test_it_shows_status_progress_and_time_left(as_viewer):
    run = make_run(Job.TRANSFORM, Status.RUNNING, requested=clock.now() - timedelta(minutes=10),
                   progress_done=250, progress_total=1000, progress_text="interaction facts")
    body = as_viewer.get(url(run)).content.decode()
    assert '<progress max="1000" value="250"' in body and "250 of 1000 rows (25%)" in body
    assert "about 0:30:0" in body  # 10 minutes for a quarter: about 30 more
    assert "interaction facts" in body and "Live: updating every 2 s." in body


def test_it_shows_the_failure_reason_parameters_and_cycle(as_viewer):
    extract = make_run(Job.EXTRACT, Status.COMPLETE)
    run = make_run(Job.TRANSFORM, Status.FAILED, parent=extract, end_reason="deadlock detected")
    body = as_viewer.get(url(run)).content.decode()
    assert "Failure reason" in body and "deadlock detected" in body
    assert f"Job_ExtractICON run {extract.pk}" in body
    assert f"Job_TransformGIM run {run.pk}" in as_viewer.get(url(extract)).content.decode()
    assert "The run has ended." in body and "hx-trigger" not in body.split('id="live-poller"')[1].split(">")[0]


def test_it_lists_reaggregation_requests(as_viewer):
    run = make_run(Job.AGGREGATE, Status.RUNNING, params="")
    ReaggregationRequest.objects.create(run=run, params="-insertPendingAgg ALLSETS:2026-01-01:2026-01-02",
                                        agg_set="ALLSETS", start_date="2026-01-01", end_date="2026-01-02",
                                        requested_by="bob", requested_at=clock.now())
    body = as_viewer.get(url(run)).content.decode()
    assert "Re-aggregation requests" in body and "ALLSETS" in body and "bob" in body


def test_it_streams_new_log_lines_while_the_run_is_active(as_viewer):
    run = make_run(Job.EXTRACT, Status.RUNNING)
    first = log(run, "chunk 1")[0]
    log(run, "chunk 2")
    r = as_viewer.get(url(run, "console:run-live"), {"after": first.pk}, **htmx("live-poller"))
    body = r.content.decode()
    assert r.status_code == 200
    assert "chunk 2" in body and "chunk 1" not in body
    assert 'hx-swap-oob="beforeend:#log-lines"' in body and 'id="run-summary" class="card" hx-swap-oob="true"' in body
    assert 'hx-trigger="every 2s"' in body


def test_it_stops_polling_with_286_once_the_run_has_ended(as_viewer):
    run = make_run(Job.EXTRACT, Status.COMPLETE)
    log(run, "Job_ExtractICON completed")
    r = as_viewer.get(url(run, "console:run-live"), {"after": 0}, **htmx("live-poller"))
    assert r.status_code == 286
    body = r.content.decode()
    assert "Job_ExtractICON completed" in body and "The run has ended." in body and "every 2s" not in body


def test_it_redirects_a_plain_request_for_the_fragment_to_the_page(as_viewer):
    run = make_run()
    r = as_viewer.get(url(run, "console:run-live"))
    assert r.status_code == 302 and r["Location"] == url(run)


def test_it_serves_the_whole_log_as_text(as_viewer):
    run = make_run()
    log(run, "one", "two")
    r = as_viewer.get(url(run, "console:run-log"))
    assert r["Content-Type"].startswith("text/plain") and r.content.decode().splitlines()[1].endswith("two")


def test_it_shows_stop_only_to_an_operator(as_viewer, as_operator):
    run = make_run(Job.TRANSFORM, Status.RUNNING)
    assert "Stop Job…" not in as_viewer.get(url(run)).content.decode()
    assert "Stop Job…" in as_operator.get(url(run)).content.decode()


def test_it_answers_404_for_an_unknown_run(as_viewer):
    assert as_viewer.get(reverse("console:run-detail", args=[424242])).status_code == 404


def test_it_refuses_other_methods(as_admin):
    run = make_run()
    assert as_admin.post(url(run)).status_code == 405
    assert as_admin.post(url(run, "console:run-live"), **htmx()).status_code == 405
