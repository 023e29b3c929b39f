"""Run Job dialog: job list, parameters, the live check, and the service's answer."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from gimmanager.catalog import Job, Status
from gimmanager.jobs.models import JobRun
from tests.console.conftest import htmx, make_run
from tests.foundation.helpers import always_in_aggregation_window, set_options

pytestmark = pytest.mark.django_db
URL = reverse("console:run-job")


def test_it_renders_the_dialog_for_htmx_and_a_standalone_page_otherwise(as_operator):
    frag = as_operator.get(URL, **htmx()).content.decode()
    assert frag.lstrip().startswith('<dialog class="dialog" id="run-job-dialog"') and "<html" not in frag
    assert " open" not in frag.split(">")[0]  # dialogs.js opens it as a modal
    page = as_operator.get(URL).content.decode()
    assert "<html" in page and 'data-dialog-autoshow open' in page  # usable without JavaScript
    assert 'action="/run/"' in page


def test_it_offers_every_job_and_disables_the_two_that_only_run_on_schedule(as_operator):
    body = as_operator.get(URL).content.decode()
    for job in Job:
        assert f'value="{job.value}"' in body
    assert ('<option value="Job_UpdateStats" disabled title="Job_UpdateStats cannot be run from the Manager'
            in body) and "Job_UpdateStats (runs only on its schedule)" in body
    assert body.split('value="Job_ExportGIM"')[1].split(">")[0].count("disabled") == 1


def test_it_starts_a_job_and_tells_the_table(as_operator, personas):
    r = as_operator.post(URL, {"job": "Job_ExtractICON", "params": ""}, **htmx("run-job-dialog"))
    run = JobRun.objects.get(job=Job.EXTRACT)
    assert run.status == Status.RUNNING and run.user == personas["operator"] and run.requested_by == "operator"
    body = r.content.decode()
    assert "Started" in body and "Job_ExtractICON started." in body and "<dialog" not in body
    assert json.loads(r["HX-Trigger"]) == {"jobsChanged": {"run": run.pk}}


def test_it_answers_scheduled_and_why_when_the_job_is_running(as_operator):
    held = make_run(Job.TRANSFORM, Status.RUNNING)
    body = as_operator.post(URL, {"job": "Job_TransformGIM"}, **htmx()).content.decode()
    assert "SCHEDULED" in body and f"already running (run {held.pk})" in body
    assert JobRun.objects.filter(job=Job.TRANSFORM, status=Status.SCHEDULED).exists()


def test_it_answers_refused_and_why(as_operator):
    set_options(run_aggregates="true", run_maintain="false")
    r = as_operator.post(URL, {"job": "Job_AggregateGIM"}, **htmx())
    body = r.content.decode()
    assert "Refused" in body and "run-aggregates is true" in body
    assert "HX-Trigger" not in r  # nothing changed
    assert not JobRun.objects.exists()


def test_it_warns_about_deadlocks_when_maintenance_is_run_by_hand(as_operator):
    set_options(run_scheduler="true")
    body = as_operator.post(URL, {"job": "Job_MaintainGIM"}, **htmx()).content.decode()
    assert "Started" in body and "to prevent deadlocks" in body


def test_it_hands_a_reaggregation_to_the_running_aggregation(as_operator):
    always_in_aggregation_window()
    agg = make_run(Job.AGGREGATE, Status.RUNNING)
    body = as_operator.post(URL, {"job": "Job_AggregateGIM",
                                  "params": "-insertPendingAgg H_QUEUE-HOUR:2014-05-01:2014-05-02"},
                            **htmx()).content.decode()
    assert "Handed over" in body
    assert agg.reaggregations.get().agg_set == "H_QUEUE-HOUR"


@pytest.mark.parametrize(("data", "message"), [
    ({"job": ""}, "Job: choose the job to run."),
    ({"job": "Job_Bogus"}, "Job_Bogus is not a Genesys Info Mart job."),
    ({"job": "Job_UpdateStats"}, "Job_UpdateStats cannot be run from the Manager"),
    ({"job": "Job_ExtractICON", "params": "-x"}, "Job_ExtractICON takes no parameters"),
    ({"job": "Job_AggregateGIM", "params": "-insertPendingAgg FOO-HOUR:2014-05-01:2014-05-02"},
     "unknown hierarchy FOO"),
    ({"job": "Job_AggregateGIM", "params": "-insertPendingAgg ALLSETS:2014-05-02:2014-05-01"},
     "must be before END"),
])
def test_it_validates_the_input_and_starts_nothing(as_operator, data, message):
    r = as_operator.post(URL, data, **htmx())
    assert r.status_code == 200 and message in r.content.decode()
    assert not JobRun.objects.exists()


def test_it_checks_as_the_user_types(as_operator):
    r = as_operator.get(URL, {"job": "Job_AggregateGIM", "params": "-insertPendingAgg ALLSETS:2014-05-01"},
                        **htmx("run-check"))
    body = r.content.decode()
    assert body.lstrip().startswith('<div id="run-check"')
    assert "expected three parts" in body
    set_options(run_aggregates="true", run_maintain="false")
    body = as_operator.get(URL, {"job": "Job_AggregateGIM", "params": ""}, **htmx("run-check")).content.decode()
    assert "Would be refused" in body and "run-aggregates is true" in body


def test_it_refuses_a_viewer(as_viewer):
    assert as_viewer.get(URL).status_code == 403
    assert as_viewer.post(URL, {"job": "Job_ExtractICON"}, **htmx()).status_code == 403
    assert not JobRun.objects.exists()


def test_it_refuses_other_methods(as_operator):
    assert as_operator.put(URL).status_code == 405
    assert as_operator.delete(URL).status_code == 405


def test_it_needs_a_csrf_token(personas):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    c.force_login(personas["operator"])
    assert c.post(URL, {"job": "Job_ExtractICON"}, **htmx()).status_code == 403
    page = c.get(reverse("console:home")).content.decode()
    token = page.split('"X-CSRFToken": "')[1].split('"')[0]  # what <body hx-headers> gives htmx
    assert c.post(URL, {"job": "Job_ExtractICON"}, HTTP_X_CSRFTOKEN=token, **htmx()).status_code == 200


def test_it_works_without_javascript(as_operator):
    answer = as_operator.post(URL, {"job": "Job_ExtractICON"}).content.decode()
    assert "<html" in answer and "Job_ExtractICON started." in answer and "Back to Job History" in answer
