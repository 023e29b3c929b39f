"""Job History page (home): table, filter, sort, keyset pages, Refresh, auto-refresh, banners."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from gimmanager import clock
from gimmanager.catalog import Job, Status
from tests.console.conftest import htmx, make_run
from tests.foundation.helpers import set_options

pytestmark = pytest.mark.django_db
URL = reverse("console:home")


def test_it_requires_sign_in(client):
    r = client.get(URL)
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


def test_it_sends_htmx_requests_without_a_session_to_the_login_page(client):
    r = client.get(URL, **htmx("history-grid"), HTTP_HX_CURRENT_URL="http://testserver/?job=Job_ExtractICON")
    assert r.status_code == 200 and r["HX-Redirect"].startswith("/accounts/login/?next=")


def test_it_shows_runs_newest_first_with_local_time_and_zone(as_viewer):
    set_options(timezone="Europe/Berlin")
    t = datetime(2026, 7, 21, 12, 0, tzinfo=ZoneInfo("UTC"))
    old = make_run(Job.EXTRACT, Status.COMPLETE, requested=t - timedelta(hours=1))
    new = make_run(Job.MAINTAIN, Status.FAILED, requested=t, by="manual", requested_by="carol",
                   end_reason="disk full")
    r = as_viewer.get(URL)
    body = r.content.decode()
    assert r.status_code == 200
    assert body.index(f'value="{new.pk}"') < body.index(f'value="{old.pk}"')
    assert "2026-07-21 14:00:00 CEST" in body  # 12:00 UTC in Berlin, with its abbreviation
    assert "carol" in body and "0:02:00" in body


def test_it_filters_by_job_status_text_and_dates(as_viewer):
    t = clock.now() - timedelta(days=3)
    a = make_run(Job.EXTRACT, Status.COMPLETE, requested=t)
    b = make_run(Job.TRANSFORM, Status.FAILED, requested=t + timedelta(days=1), end_reason="deadlock detected")
    c = make_run(Job.AGGREGATE, Status.COMPLETE, by="manual", requested_by="dora",
                 params="-insertPendingAgg ALLSETS:2014-05-01:2014-05-31", requested=t + timedelta(days=2))

    def shown(**q):
        body = as_viewer.get(URL, q).content.decode()
        return {run.pk for run in (a, b, c) if f'value="{run.pk}"' in body}

    assert shown(job="Job_ExtractICON") == {a.pk}
    assert shown(status="FAILED") == {b.pk}
    assert shown(q="deadlock") == {b.pk}
    assert shown(q="dora") == {c.pk}
    assert shown(q="ALLSETS") == {c.pk}
    assert shown(q=f"#{a.pk}") == {a.pk}
    day = (t + timedelta(days=1)).date().isoformat()
    assert shown(date_from=day, date_to=day) == {b.pk}
    assert shown(date_from=day) == {b.pk, c.pk}


def test_it_reports_bad_filter_input_and_ignores_it(as_viewer):
    run = make_run()
    r = as_viewer.get(URL, {"date_from": "2026-13-45", "job": "Job_Nonsense", "status": "DONE"})
    body = r.content.decode()
    assert r.status_code == 200
    assert "Enter a valid date" in body and "Select a valid choice" in body
    assert f'value="{run.pk}"' in body  # the bad fields do not filter
    r = as_viewer.get(URL, {"date_from": "2026-05-02", "date_to": "2026-05-01"})
    assert "The end date is before the start date." in r.content.decode()
    # A filter change redraws the table region, errors included.
    r = as_viewer.get(URL, {"date_from": "2026-05-02", "date_to": "2026-05-01"}, **htmx("history-table"))
    assert "The end date is before the start date." in r.content.decode()


@pytest.mark.parametrize("sort", ["job", "-job", "status", "-status", "started", "-started", "duration",
                                  "-duration", "requested", "-requested", "nonsense"])
def test_it_sorts_by_every_column(as_viewer, sort):
    make_run(Job.EXTRACT, Status.SCHEDULED)
    make_run(Job.TRANSFORM, Status.RUNNING)
    make_run(Job.MAINTAIN, Status.COMPLETE)
    r = as_viewer.get(URL, {"sort": sort})
    assert r.status_code == 200
    assert r.content.decode().count('name="selected"') == 3


def test_it_pages_with_cursors_not_counts(as_viewer, django_assert_max_num_queries):
    base = clock.now() - timedelta(days=1)
    runs = [make_run(requested=base + timedelta(minutes=i)) for i in range(120)]
    as_viewer.get(URL)  # creates the option rows on first use
    # session, user, groups, 2 x perms, 5 x options, the page, "anything active?", the
    # planner's row estimate: a constant, and no COUNT(*) whatever the history's size.
    with django_assert_max_num_queries(14):
        first = as_viewer.get(URL)
    body = first.content.decode()
    assert f'value="{runs[-1].pk}"' in body and f'value="{runs[69].pk}"' not in body
    after = first.context["page"].next
    second = as_viewer.get(URL, {"after": after})
    assert [r.pk for r in second.context["page"].rows] == [r.pk for r in runs[::-1][50:100]]
    back = as_viewer.get(URL, {"before": second.context["page"].prev})
    assert [r.pk for r in back.context["page"].rows] == [r.pk for r in runs[::-1][:50]]


def test_it_keeps_the_selected_row_on_refresh(as_operator):
    run = make_run(Job.TRANSFORM, Status.RUNNING)
    r = as_operator.get(URL, {"selected": run.pk}, **htmx("history-grid"))
    assert f'value="{run.pk}" id="sel-{run.pk}" form="history-form" aria-label' in r.content.decode()
    assert 'checked' in r.content.decode().split(f'id="sel-{run.pk}"')[1].split(">")[0]


def test_it_answers_refresh_with_the_table_and_pager_only(as_viewer):
    make_run()
    r = as_viewer.get(URL, {"job": "Job_ExtractICON"}, **htmx("history-grid"))
    body = r.content.decode()
    assert body.lstrip().startswith('<table id="history-grid"')
    assert 'id="history-foot" class="foot" hx-swap-oob="true"' in body
    assert "<html" not in body and "Quick filter" not in body
    # The table carries the filter back, so the next refresh redraws the same rows.
    assert '<input type="hidden" name="job" value="Job_ExtractICON"' in body


def test_it_answers_filter_changes_with_the_table_region(as_viewer):
    r = as_viewer.get(URL, {"status": "FAILED"}, **htmx("history-table"))
    body = r.content.decode()
    assert '<div class="table-wrap">' in body and "hx-swap-oob" not in body and "<html" not in body


def test_it_polls_fast_while_a_job_is_active_and_slowly_otherwise(as_viewer):
    make_run(Job.EXTRACT, Status.COMPLETE)
    assert 'hx-trigger="every 30s' in as_viewer.get(URL).content.decode()
    make_run(Job.TRANSFORM, Status.SCHEDULED)
    body = as_viewer.get(URL, **htmx("history-grid")).content.decode()
    assert 'hx-trigger="every 3s [document.getElementById(\'auto-refresh\')?.checked], jobsChanged from:body"' in body
    assert "Jobs are active" in body


def test_it_shows_stopping_for_a_running_run_asked_to_stop(as_viewer):
    make_run(Job.AGGREGATE, Status.RUNNING, stop_requested_at=clock.now(), stop_requested_by="bob")
    assert "stopping…" in as_viewer.get(URL).content.decode()


def test_it_hides_run_and_stop_buttons_from_a_viewer(as_viewer, as_operator):
    assert 'id="run-job"' not in as_viewer.get(URL).content.decode()
    body = as_operator.get(URL).content.decode()
    assert 'id="run-job"' in body and 'id="stop-job"' in body


def test_it_warns_when_the_scheduler_is_paused_or_the_configuration_is_wrong(as_viewer):
    set_options(run_scheduler="false")
    body = as_viewer.get(URL).content.decode()
    assert "The scheduler is paused (run-scheduler = false)" in body
    set_options(run_scheduler="true", run_maintain="true", maintain_start_time="07:00",
                etl_start_time="06:00", etl_end_time="02:00")
    body = as_viewer.get(URL).content.decode()
    assert "The scheduler is paused" not in body
    assert "The configuration check found errors" in body and "maintain-start-time" in body


def test_it_refuses_other_methods(as_admin):
    assert as_admin.post(URL).status_code == 405
