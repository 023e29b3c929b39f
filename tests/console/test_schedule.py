"""Today's schedule: the simulator's plan for the current options, what ran, and now."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from console import timeline
from gimmanager import clock
from gimmanager.catalog import Job, Status
from gimmanager.options import ScheduleOptions
from tests.console.conftest import htmx, make_run
from tests.foundation.helpers import set_options

pytestmark = pytest.mark.django_db
URL = reverse("console:schedule")

# The seed's sample schedule (Sample Genesys Info Mart Server Schedule).
SAMPLE = {"run_scheduler": "true", "etl_start_time": "06:30", "etl_end_time": "00:30", "etl_frequency": "30",
          "maintain_start_time": "03:00", "run_aggregates": "true", "aggregate_schedule": "0 4",
          "aggregate_duration": "23:00", "run_update_stats": "true", "run_export": "true"}


def test_it_draws_the_seed_sample_schedule():
    opts = ScheduleOptions.from_values(None, timezone="America/New_York", **SAMPLE)
    now = datetime(2026, 7, 21, 16, 0, tzinfo=ZoneInfo("UTC"))  # 12:00 in New York
    tl = timeline.build(opts, date(2026, 7, 21), now)
    rows = {r.job: r for r in tl["rows"]}
    assert rows["Job_AggregateGIM"].windows[0].title == "aggregation window 04:00-03:00"
    assert [w.title for w in rows["Job_ExtractICON"].windows] == ["ETL window 06:30-00:30", "ETL window 06:30-00:30"]
    assert rows["Job_MaintainGIM"].marks[0].title == "maintain-start-time 03:00"
    assert rows["Job_MaintainGIM"].planned_count == 1
    assert rows["Job_UpdateStats"].ticks and rows["Job_ExportGIM"].planned_count == 3
    assert tl["now_x"] == pytest.approx(150 + 1038 * 0.5, abs=0.2) and tl["now_label"] == "now 12:00"
    assert tl["cycles"] >= 30


def test_it_draws_a_25_hour_day_with_local_hour_labels():
    opts = ScheduleOptions.from_values(None, timezone="Europe/Berlin", **SAMPLE)
    tl = timeline.build(opts, date(2026, 10, 25), datetime(2026, 10, 20, tzinfo=ZoneInfo("UTC")))
    labels = [h["label"] for h in tl["hours"]]
    assert tl["length"] == 25 and labels[:5] == ["00", "01", "02", "02", "03"] and tl["now_x"] is None


def test_it_shows_the_plan_what_ran_and_now(as_viewer):
    set_options(timezone="Europe/Berlin", **SAMPLE)
    ran = make_run(Job.EXTRACT, Status.COMPLETE, requested=clock.now() - timedelta(minutes=20))
    body = as_viewer.get(URL).content.decode()
    assert "<svg" in body and "ETL window 06:30-00:30" in body
    assert f'href="/runs/{ran.pk}/"' in body and 'class="tl-now"' in body
    assert "Assumed run lengths" in body


def test_it_draws_the_day_the_options_describe_while_the_scheduler_is_paused(as_viewer):
    body = as_viewer.get(URL).content.decode()
    assert "run-scheduler is false, so the scheduler starts nothing today" in body
    assert 'class="tl-plan"' in body or 'class="tl-tick"' in body


def test_it_marks_refused_starts_when_the_configuration_check_fails(as_viewer):
    set_options(run_scheduler="true", maintain_start_time="07:00")
    body = as_viewer.get(URL).content.decode()
    assert "The configuration check finds errors" in body and "planned start" in body


def test_it_says_so_when_the_simulator_is_missing(as_viewer, monkeypatch):
    monkeypatch.setattr(timeline, "simulator_available", lambda: False)
    assert "needs the scheduler&#x27;s simulator" in as_viewer.get(URL).content.decode()


def test_it_is_a_plain_page_for_htmx_too(as_viewer):
    assert "<html" in as_viewer.get(URL, **htmx()).content.decode()


def test_it_refuses_other_methods(as_admin):
    assert as_admin.post(URL).status_code == 405
