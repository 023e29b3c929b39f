"""Re-aggregation dialog: the guided form builds -insertPendingAgg, checks it as the
user types, warns about purged facts, and submits through request_run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from gimmanager import clock
from gimmanager.catalog import Job, Status
from gimmanager.jobs.models import JobRun, ReaggregationRequest
from tests.console.conftest import htmx, make_run
from tests.foundation.helpers import always_in_aggregation_window

pytestmark = pytest.mark.django_db
URL = reverse("console:reaggregate")
CHECK = reverse("console:reaggregate-check")


def sets(**extra):
    return {"scope": "sets", "hierarchies": ["H_QUEUE", "H_AGENT"], "level": "HOUR", "flavor": "Offline",
            "start": "2026-05-01", "end": "2026-05-02", **extra}


def test_it_renders_the_dialog_and_the_standalone_page(as_operator):
    frag = as_operator.get(URL, **htmx()).content.decode()
    assert frag.lstrip().startswith('<dialog class="dialog wide" id="reagg-dialog"') and "<html" not in frag
    assert "-insertPendingAgg ALLSETS:" in frag  # the default: all sets, yesterday
    assert "deleted first" in frag and "must still exist" in frag
    page = as_operator.get(URL).content.decode()
    assert "<html" in page and "data-dialog-autoshow open" in page


def test_it_lists_the_hierarchies_the_info_mart_aggregates(as_operator):
    from infomart import hierarchies

    body = as_operator.get(URL).content.decode()
    for h in hierarchies.available():
        assert f'<option value="{h}"' in body


def test_it_lists_every_raa_hierarchy_when_the_info_mart_cannot_tell(as_operator, monkeypatch):
    from infomart import hierarchies

    monkeypatch.delattr(hierarchies, "available")
    body = as_operator.get(URL).content.decode()
    for h in ("H_AGENT", "H_QUEUE_ACC_AGENT", "H_CAMPAIGN"):
        assert f'<option value="{h}"' in body
    assert "All RAA hierarchies are listed." in body


def test_it_builds_and_checks_the_parameter_as_the_user_types(as_operator):
    r = as_operator.get(CHECK, sets(), **htmx("reagg-check"))
    body = r.content.decode()
    assert body.lstrip().startswith('<div id="reagg-check"')
    assert "-insertPendingAgg H_QUEUE,H_AGENT-HOUR.Offline:2026-05-01:2026-05-02" in body
    assert "errors" not in body


@pytest.mark.parametrize(("data", "message"), [
    (sets(start="2026-05-03"), "must be before END"),
    (sets(level=""), "Choose the aggregation level"),
    (sets(hierarchies=[]), "Choose at least one hierarchy"),
    (sets(hierarchies=["H_NOPE"]), "Select a valid choice"),
    (sets(end="2026-02-30"), "Enter a valid date"),
])
def test_it_reports_what_is_wrong(as_operator, data, message):
    assert message in as_operator.get(CHECK, data, **htmx("reagg-check")).content.decode()
    r = as_operator.post(URL, data, **htmx())
    assert message in r.content.decode()
    assert not JobRun.objects.exists() and not ReaggregationRequest.objects.exists()


def test_it_warns_when_the_facts_of_the_range_were_purged(as_operator):
    old = (clock.now() - timedelta(days=500)).date()
    body = as_operator.get(CHECK, {"scope": "ALLSETS", "start": old.isoformat(),
                                   "end": (old + timedelta(days=2)).isoformat()}, **htmx("reagg-check")).content
    assert b"have been purged (days-to-keep-gim-facts = 400)" in body
    assert b"no aggregates at all" in body


def test_it_hands_the_request_to_the_running_aggregation(as_operator):
    always_in_aggregation_window()
    agg = make_run(Job.AGGREGATE, Status.RUNNING)
    preview = as_operator.get(CHECK, sets(), **htmx("reagg-check")).content.decode()
    assert "Handed over to the running job" in preview
    r = as_operator.post(URL, sets(), **htmx("reagg-dialog"))
    assert "Handed over" in r.content.decode() and "jobsChanged" in r["HX-Trigger"]
    req = ReaggregationRequest.objects.get()
    assert req.run == agg and req.agg_set == "H_QUEUE,H_AGENT-HOUR.Offline" and req.requested_by == "operator"


def test_it_starts_aggregation_without_the_parameters_when_none_runs(as_operator):
    always_in_aggregation_window()
    body = as_operator.post(URL, {"scope": "ALLSETS", "start": "2026-05-01", "end": "2026-05-02"},
                            **htmx()).content.decode()
    assert "Started" in body and "ignores the re-aggregation parameters" in body
    assert JobRun.objects.get().params == ""


def test_it_refuses_a_viewer(as_viewer):
    assert as_viewer.get(URL).status_code == 403
    assert as_viewer.get(CHECK, sets()).status_code == 403
    assert as_viewer.post(URL, sets()).status_code == 403


def test_it_refuses_other_methods(as_operator):
    assert as_operator.put(URL).status_code == 405
    assert as_operator.post(CHECK, sets()).status_code == 405
