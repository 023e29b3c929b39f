"""Stop Job: stop the selected RUNNING run, cancel the selected SCHEDULED one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from gimmanager.catalog import Job, Status
from tests.console.conftest import htmx, make_run
from tests.foundation.helpers import set_options

pytestmark = pytest.mark.django_db
SELECTED = reverse("console:stop-selected")


def stop_url(run):
    return reverse("console:stop-run", args=[run.pk])


def cancel_url(run):
    return reverse("console:cancel-run", args=[run.pk])


def test_it_confirms_stopping_the_selected_running_run(as_operator):
    run = make_run(Job.TRANSFORM, Status.RUNNING)
    frag = as_operator.get(SELECTED, {"selected": run.pk}, **htmx()).content.decode()
    assert frag.lstrip().startswith('<dialog class="dialog" id="stop-dialog"')
    assert "stops at its next safe point" in frag and f'action="{stop_url(run)}"' in frag
    page = as_operator.get(SELECTED, {"selected": run.pk, "job": "Job_TransformGIM"}).content.decode()
    assert "<html" in page and "data-dialog-autoshow open" in page  # the no-JS Stop Job button lands here


def test_it_asks_for_a_selection_first(as_operator):
    assert "Select a RUNNING or SCHEDULED run" in as_operator.get(SELECTED, **htmx()).content.decode()
    done = make_run(Job.EXTRACT, Status.COMPLETE)
    body = as_operator.get(SELECTED, {"selected": done.pk}, **htmx()).content.decode()
    assert "is COMPLETE: only RUNNING or SCHEDULED runs can be stopped" in body and "stop-submit" not in body


def test_it_stops_a_running_run(as_operator):
    run = make_run(Job.TRANSFORM, Status.RUNNING, attempt="00000000-0000-0000-0000-000000000001")
    r = as_operator.post(stop_url(run), **htmx("stop-dialog"))
    run.refresh_from_db()
    assert run.status == Status.RUNNING and run.stop_requested_by == "operator"  # the worker stops it
    assert "Stopping" in r.content.decode() and "jobsChanged" in r["HX-Trigger"]
    table = as_operator.get(reverse("console:home"), **htmx("history-grid")).content.decode()
    assert "stopping…" in table


def test_it_stops_at_once_a_run_no_worker_has_claimed(as_operator):
    run = make_run(Job.EXTRACT, Status.RUNNING)
    as_operator.post(stop_url(run), **htmx())
    run.refresh_from_db()
    assert run.status == Status.STOPPED and run.end_reason == "stopped by operator"


def test_it_cancels_a_scheduled_run(as_operator):
    run = make_run(Job.TRANSFORM, Status.SCHEDULED)
    body = as_operator.get(SELECTED, {"selected": run.pk}, **htmx()).content.decode()
    assert "Cancel the scheduled run" in body and "removes it from the pending jobs" in body
    r = as_operator.post(stop_url(run), **htmx())
    run.refresh_from_db()
    assert run.status == Status.STOPPED and "cancelled by operator" in run.end_reason
    assert "Cancelled" in r.content.decode()


def test_it_cancels_through_the_cancel_action_too(as_operator):
    run = make_run(Job.MAINTAIN, Status.SCHEDULED)
    assert "Cancelled" in as_operator.post(cancel_url(run), **htmx()).content.decode()
    running = make_run(Job.EXTRACT, Status.RUNNING)
    body = as_operator.post(cancel_url(running), **htmx()).content.decode()
    assert "Refused" in body and "only a SCHEDULED run can be cancelled" in body


def test_it_warns_that_the_scheduler_restarts_a_stopped_aggregation(as_operator):
    set_options(run_scheduler="true", run_aggregates="true", aggregate_schedule="* *", aggregate_duration="24:00",
                run_maintain="false")
    run = make_run(Job.AGGREGATE, Status.RUNNING, attempt="00000000-0000-0000-0000-000000000002")
    confirm = as_operator.get(stop_url(run), **htmx()).content.decode()
    assert "the scheduler will restart Job_AggregateGIM almost at once" in confirm
    answer = as_operator.post(stop_url(run), **htmx()).content.decode()
    assert "the scheduler will restart Job_AggregateGIM almost at once" in answer


def test_it_refuses_to_stop_an_ended_run(as_operator):
    run = make_run(Job.EXTRACT, Status.FAILED)
    r = as_operator.post(stop_url(run), **htmx())
    assert "Refused" in r.content.decode() and "HX-Trigger" not in r


def test_it_answers_404_for_an_unknown_run(as_operator):
    assert as_operator.post(reverse("console:stop-run", args=[999999])).status_code == 404


def test_it_refuses_a_viewer(as_viewer):
    run = make_run(Job.TRANSFORM, Status.RUNNING)
    assert as_viewer.get(SELECTED, {"selected": run.pk}).status_code == 403
    assert as_viewer.get(stop_url(run)).status_code == 403
    assert as_viewer.post(stop_url(run)).status_code == 403
    assert as_viewer.post(cancel_url(run)).status_code == 403
    run.refresh_from_db()
    assert run.stop_requested_at is None


def test_it_refuses_other_methods(as_operator):
    run = make_run(Job.TRANSFORM, Status.SCHEDULED)
    assert as_operator.get(cancel_url(run)).status_code == 405
    assert as_operator.post(SELECTED).status_code == 405
    assert as_operator.put(stop_url(run)).status_code == 405


def test_it_works_without_javascript(as_operator):
    run = make_run(Job.TRANSFORM, Status.SCHEDULED)
    page = as_operator.get(SELECTED, {"selected": run.pk}).content.decode()  # the Stop Job submit button
    assert f'<form method="post" action="{stop_url(run)}"' in page
    answer = as_operator.post(stop_url(run)).content.decode()
    assert "<html" in answer and "Cancelled" in answer and "Back to Job History" in answer
