"""ETL status: marks vs now, last transform, pending aggregation, cycle chart, failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from gimmanager import clock
from gimmanager.catalog import Job, Status
from tests.console.conftest import htmx, make_run

pytestmark = pytest.mark.django_db
URL = reverse("console:etl-status")


def test_it_draws_the_last_cycles_and_lists_recent_failures(as_viewer):
    now = clock.now()
    for i in range(3):
        e = make_run(Job.EXTRACT, Status.COMPLETE, requested=now - timedelta(hours=3 - i))
        make_run(Job.TRANSFORM, Status.FAILED if i == 1 else Status.COMPLETE, parent=e,
                 requested=e.ended_at, end_reason="deadlock detected" if i == 1 else "")
    make_run(Job.MAINTAIN, Status.FAILED, requested=now - timedelta(days=3), end_reason="too old to list")
    body = as_viewer.get(URL).content.decode()
    assert body.count('class="bar complete"') == 2 and body.count('class="bar failed"') == 1
    assert "<svg" in body and "Duration of the last 3 ETL cycles" in body
    assert "deadlock detected" in body and "too old to list" not in body
    assert "Last transformation" in body and "ago)" in body


def test_it_shows_extraction_marks_and_pending_ranges_from_the_info_mart(as_viewer):
    from infomart.models import CtlExtractHistory, CtlPendingAgg

    now = clock.now()
    ts = int((now - timedelta(minutes=7)).timestamp())
    CtlExtractHistory.objects.create(table_name="g_call", row_count=10, max_useq=1234, max_ts=ts,
                                     extract_start_time=now, extract_end_time=now, job_id="1",
                                     create_audit_key=1, created_ts=ts)
    CtlPendingAgg.objects.create(start_key=ts - 3600, end_key=ts, created_ts=ts)
    body = as_viewer.get(URL).content.decode()
    assert "<code>g_call</code>" in body and "1234" in body and "0:07:0" in body
    assert "<strong>1</strong> range waiting" in body


def test_it_says_when_there_is_nothing_to_show(as_viewer):
    body = as_viewer.get(URL).content.decode()
    assert "No ETL cycle has run yet." in body and "No job failed in the last 24 hours." in body
    assert "there is no high-water mark" in body


def test_it_degrades_when_the_info_mart_tables_cannot_be_read(as_viewer, monkeypatch):
    from django.db import DatabaseError

    from infomart.models import CtlExtractHistory

    def broken(*a, **k):
        raise DatabaseError('relation "ctl_extract_history" does not exist')

    monkeypatch.setattr(CtlExtractHistory.objects, "order_by", broken)
    r = as_viewer.get(URL)
    assert r.status_code == 200 and "The Info Mart tables cannot be read" in r.content.decode()


def test_it_is_a_plain_page_for_htmx_too(as_viewer):
    assert "<html" in as_viewer.get(URL, **htmx()).content.decode()


def test_it_refuses_other_methods(as_admin):
    assert as_admin.post(URL).status_code == 405
