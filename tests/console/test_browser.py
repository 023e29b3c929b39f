"""End to end in headless Chromium (Debian's package, driven by Playwright) against a
live server, with a real Celery worker executing the jobs.

Saves screenshots of the main pages as test artifacts into test-artifacts/screenshots/
(GIM_SCREENSHOT_DIR=docs/screenshots refreshes the README's pictures instead).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from gimmanager.catalog import Job, Status
from gimmanager.config.services import current_values
from gimmanager.jobs import services
from gimmanager.jobs.models import JobRun
from tests.foundation.helpers import ALICE, always_in_aggregation_window, wait_status

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / os.environ.get("GIM_SCREENSHOT_DIR", "test-artifacts/screenshots")
BODIES = "tests.console.bodies"


@pytest.fixture(scope="module")
def worker_env() -> dict[str, str]:
    # Extraction takes four seconds (long enough to be seen RUNNING); aggregation and
    # transformation run until stopped, honouring a stop every two seconds.
    return {"GIM_JOB_BODIES": json.dumps({
        Job.EXTRACT.value: f"{BODIES}.four_seconds",
        Job.TRANSFORM.value: f"{BODIES}.continuous",
        Job.AGGREGATE.value: f"{BODIES}.continuous",
    })}


@pytest.fixture
def site(live_server: Any, worker: Any, personas: dict[str, Any]) -> str:
    return str(live_server.url)


def shot(page: Page, name: str, *, full: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)


def sign_in(page: Page, site: str, who: str) -> None:
    page.goto(site + "/accounts/login/")
    page.fill("#id_username", who)
    page.fill("#id_password", f"pw-{who}")
    page.click("#sign-in")
    expect(page.locator("h1")).to_have_text("Job History")


def row(page: Page, run_id: int):  # noqa: ANN201 - a Playwright locator
    return page.locator(f"#history-grid tr:has(#sel-{run_id})")


def run_from_dialog(page: Page, job: str, params: str = "", *, open_it: bool = True) -> int:
    if open_it:
        page.click("#run-job")
    dialog = page.locator("dialog#run-job-dialog[open]")
    expect(dialog.locator("#run_job")).to_be_visible()
    dialog.locator("#run_job").select_option(job)
    if params:
        dialog.locator("#run_params").fill(params)
    dialog.locator("#run-submit").click()
    link = dialog.get_by_role("link", name=re.compile(rf"Open {job} run \d+"))
    expect(link).to_be_visible()
    return int(re.search(r"run (\d+)", link.inner_text())[1])  # type: ignore[index]


def close_dialog(page: Page) -> None:
    page.locator("dialog[open] button.primary[data-dialog-close]").click()
    expect(page.locator("dialog[open]")).to_have_count(0)


def stop_all() -> None:
    """Leave no job running on the worker for the next test."""
    for run in JobRun.objects.filter(status=Status.RUNNING):
        services.stop_run(run.pk, by=ALICE)
        wait_status(run, Status.STOPPED, Status.FAILED, Status.COMPLETE, timeout=20)


def test_it_signs_in_and_shows_the_history(page: Page, site: str):
    page.goto(site + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    shot(page, "login", full=False)
    sign_in(page, site, "operator")
    expect(page.locator(".banner.warning")).to_contain_text("run-scheduler = false")


def test_it_runs_extraction_from_the_dialog_and_sees_it_complete_by_refresh(page: Page, site: str):
    sign_in(page, site, "operator")
    page.uncheck("#auto-refresh")  # only the Refresh button may update the table here
    run_id = run_from_dialog(page, "Job_ExtractICON")
    expect(page.locator("dialog[open] .outcome")).to_contain_text("Job_ExtractICON started.")
    shot(page, "run-job-answer", full=False)
    close_dialog(page)
    # The dialog's answer triggered jobsChanged: the table shows the new run RUNNING.
    expect(row(page, run_id).locator(".badge")).to_have_text("RUNNING")
    wait_status(run_id, Status.COMPLETE)
    expect(row(page, run_id).locator(".badge")).to_have_text("RUNNING")  # no auto-refresh: still the old view
    row(page, run_id).locator("input[name=selected]").check()
    page.click("#refresh")
    expect(row(page, run_id).locator(".badge")).to_have_text("COMPLETE")
    expect(page.locator(f"#sel-{run_id}")).to_be_checked()  # the selection survived the refresh


def test_it_sees_a_run_go_running_then_complete_by_auto_refresh(page: Page, site: str):
    sign_in(page, site, "operator")
    page.select_option("#id_job", "Job_ExtractICON")  # a filter, which the refreshes must keep
    expect(page).to_have_url(re.compile(r"job=Job_ExtractICON"))
    run_id = run_from_dialog(page, "Job_ExtractICON")
    close_dialog(page)
    expect(row(page, run_id).locator(".badge")).to_have_text("RUNNING")
    row(page, run_id).locator("input[name=selected]").check()
    shot(page, "history-running")
    expect(row(page, run_id).locator(".badge")).to_have_text("COMPLETE", timeout=20_000)
    expect(page.locator(f"#sel-{run_id}")).to_be_checked()
    expect(page.locator("#id_job")).to_have_value("Job_ExtractICON")
    # Detail page of the finished run: progress, log, timings.
    page.click(f"#history-grid a[href='/runs/{run_id}/']")
    expect(page.locator("#log-lines")).to_contain_text("chunk 8 of 8")
    expect(page.locator("#live-poller")).to_contain_text("The run has ended.")
    shot(page, "run-detail")


def test_the_live_log_follows_its_tail_until_the_reader_scrolls_up(page: Page, site: str):
    from django.utils import timezone

    from gimmanager.jobs.models import JobLogEntry

    sign_in(page, site, "operator")
    run_id = run_from_dialog(page, "Job_TransformGIM")  # continuous: a "chunk n" line every 2 s
    close_dialog(page)
    wait_status(run_id, Status.RUNNING)
    JobLogEntry.objects.bulk_create(JobLogEntry(run_id=run_id, at=timezone.now(), level="INFO",
                                                message=f"earlier line {i}") for i in range(120))
    page.goto(f"{site}/runs/{run_id}/")
    log = page.locator("#log-lines")
    at_bottom = "el => el.scrollHeight - el.scrollTop - el.clientHeight < 8"
    assert log.evaluate("el => el.scrollHeight > el.clientHeight + 100")  # the box does scroll
    assert log.evaluate(at_bottom)  # opened at the tail
    shot(page, "run-detail-live-log", full=False)
    lines = log.locator("li").count()
    expect(log.locator("li")).not_to_have_count(lines, timeout=10_000)  # a live poll appended a line
    page.wait_for_function(f"document.querySelector('#log-lines').scrollHeight - "
                           f"document.querySelector('#log-lines').scrollTop - "
                           f"document.querySelector('#log-lines').clientHeight < 8")
    # Reading earlier lines: new lines no longer pull the box down.
    log.evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
    lines = log.locator("li").count()
    expect(log.locator("li")).not_to_have_count(lines, timeout=10_000)
    assert log.evaluate("el => el.scrollTop") == 0
    stop_all()


def test_it_stops_a_running_aggregation(page: Page, site: str):
    always_in_aggregation_window()
    sign_in(page, site, "operator")
    run_id = run_from_dialog(page, "Job_AggregateGIM")
    close_dialog(page)
    wait_status(run_id, Status.RUNNING)
    row(page, run_id).locator("input[name=selected]").check()
    page.click("#stop-job")
    dialog = page.locator("dialog#stop-dialog[open]")
    expect(dialog).to_contain_text("stops at its next safe point")
    shot(page, "stop-job", full=False)
    dialog.locator("#stop-submit").click()
    expect(dialog.locator(".outcome")).to_contain_text("is stopping")
    close_dialog(page)
    expect(row(page, run_id).locator(".badge")).to_have_text("stopping…")
    expect(row(page, run_id).locator(".badge")).to_have_text("STOPPED", timeout=20_000)
    assert JobRun.objects.get(pk=run_id).stop_requested_by == "operator"


def test_it_cancels_a_scheduled_run(page: Page, site: str):
    sign_in(page, site, "operator")
    running = run_from_dialog(page, "Job_TransformGIM")
    expect(page.locator("dialog[open] .outcome")).to_contain_text("started")
    page.click("dialog[open] >> text=Run another job")
    waiting = run_from_dialog(page, "Job_TransformGIM", open_it=False)
    expect(page.locator("dialog[open] .outcome")).to_contain_text("SCHEDULED")
    expect(page.locator("dialog[open] .outcome")).to_contain_text(f"already running (run {running})")
    close_dialog(page)
    expect(row(page, waiting).locator(".badge")).to_have_text("SCHEDULED")
    row(page, waiting).locator("input[name=selected]").check()
    page.click("#stop-job")
    dialog = page.locator("dialog#stop-dialog[open]")
    expect(dialog).to_contain_text("removes it from the pending jobs")
    dialog.locator("#stop-submit").click()
    expect(dialog.locator(".outcome")).to_contain_text("cancelled")
    close_dialog(page)
    expect(row(page, waiting).locator(".badge")).to_have_text("STOPPED")
    assert JobRun.objects.get(pk=waiting).started_at is None
    assert JobRun.objects.get(pk=running).status == Status.RUNNING
    stop_all()


def test_it_shows_a_bad_reaggregation_parameter_as_its_error(page: Page, site: str):
    sign_in(page, site, "operator")
    page.click("#run-job")
    dialog = page.locator("dialog#run-job-dialog[open]")
    dialog.locator("#run_job").select_option("Job_AggregateGIM")
    dialog.locator("#run_params").fill("-insertPendingAgg H_NOPE-HOUR:2014-05-01:2014-05-02")
    expect(dialog.locator("#run-check .errors")).to_contain_text("unknown hierarchy H_NOPE")  # as typed
    dialog.locator("#run-submit").click()
    expect(dialog.locator("#run-check .errors")).to_contain_text("unknown hierarchy H_NOPE")
    shot(page, "run-job-bad-parameter", full=False)
    page.keyboard.press("Escape")
    # The guided form: an interval that ends before it starts.
    page.click("text=Re-aggregate…")
    dialog = page.locator("dialog#reagg-dialog[open]")
    dialog.locator("input[name=scope][value=sets]").check()
    dialog.locator("#reagg_hierarchies").select_option(["H_QUEUE", "H_AGENT"])
    dialog.locator("#reagg_level").select_option("HOUR")
    dialog.locator("#reagg_start").fill("2026-05-03")
    dialog.locator("#reagg_end").fill("2026-05-01")
    expect(dialog.locator("#reagg-check .errors")).to_contain_text("must be before END")
    expect(dialog.locator("#reagg-param")).to_have_text("-insertPendingAgg H_AGENT,H_QUEUE-HOUR:2026-05-03:2026-05-01")
    shot(page, "reaggregate", full=False)
    assert not JobRun.objects.exists()


def test_it_shows_a_viewer_no_run_button_and_refuses_a_post(page: Page, site: str):
    sign_in(page, site, "viewer")
    expect(page.locator("#run-job")).to_have_count(0)
    expect(page.locator("#stop-job")).to_have_count(0)
    shot(page, "history-viewer", full=False)
    status = page.evaluate("""async () => {
        const token = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken'];
        const r = await fetch('/run/', {method: 'POST', headers: {'X-CSRFToken': token, 'HX-Request': 'true'},
                                        body: new URLSearchParams({job: 'Job_ExtractICON'})});
        return r.status;
    }""")
    assert status == 403 and not JobRun.objects.exists()


def test_it_shows_a_bad_option_value_as_its_field_error_and_saves_nothing(page: Page, site: str):
    sign_in(page, site, "admin")
    page.click("nav >> text=Configuration")
    page.fill("input[name='schedule:timezone']", "Mars/Olympus")
    page.fill("input[name='schedule:etl-frequency']", "30")
    page.click("#config-save")
    field = page.locator("#opt-schedule-timezone")
    expect(field.locator(".error")).to_contain_text("expected an IANA time-zone ID")
    expect(page.locator("#config-form .banner.error")).to_contain_text("Nothing was saved")
    expect(page.locator("input[name='schedule:timezone']")).to_have_value("Mars/Olympus")
    field.scroll_into_view_if_needed()
    shot(page, "configuration-error", full=False)
    values = current_values()["schedule"]
    assert values["timezone"] == "GMT" and values["etl-frequency"] == "15"


def seed_a_day_of_history() -> None:
    """Past ETL cycles, a failure, a stopped run and scheduler decisions, for the screenshots."""
    from datetime import timedelta

    from gimmanager import clock
    from scheduler.models import SchedulerDecision
    from tests.console.conftest import make_run

    now = clock.now()
    for i in range(30, 0, -1):
        t = now - timedelta(minutes=15 * i)
        e = make_run(Job.EXTRACT, Status.COMPLETE, requested=t, ended=t + timedelta(seconds=60 + 7 * (i % 9)))
        make_run(Job.TRANSFORM, Status.FAILED if i == 11 else Status.COMPLETE, parent=e, requested=e.ended_at,
                 ended=e.ended_at + timedelta(seconds=90 + 11 * (i % 7)),
                 end_reason="IntegrityError: duplicate key value violates unique constraint" if i == 11 else "")
    m = make_run(Job.MAINTAIN, Status.STOPPED, requested=now - timedelta(hours=9), started=now - timedelta(hours=9),
                 ended=now - timedelta(hours=8, minutes=50), stop_requested_at=now - timedelta(hours=8, minutes=51),
                 stop_requested_by="scheduler", end_reason="a due ETL cycle stops scheduler-started maintenance")
    SchedulerDecision.objects.create(at=now - timedelta(hours=9, minutes=30), last_at=now - timedelta(hours=9),
                                     count=30, job=Job.MAINTAIN.value, action="wait", rule=5,
                                     reason="maintain-start-time reached, but Job_TransformGIM is running")
    stop_at = now - timedelta(hours=8, minutes=51)
    SchedulerDecision.objects.create(at=stop_at, last_at=stop_at,
                                     job=Job.MAINTAIN.value, action="stop", rule=6, run=m,
                                     reason="ETL cycle due at 06:00: scheduler-started Job_MaintainGIM is stopped")
    skip_at = now - timedelta(hours=8, minutes=55)
    SchedulerDecision.objects.create(at=skip_at, last_at=skip_at,
                                     job=Job.UPDATE_STATS.value, action="skip", rule=7,
                                     reason="Job_MaintainGIM runs: the 05:50 tick is skipped")


def test_it_screenshots_the_other_pages(page: Page, site: str):
    seed_a_day_of_history()
    always_in_aggregation_window()
    services.request_run(Job.EXTRACT, by=ALICE)
    agg = services.request_run(Job.AGGREGATE, by=ALICE).run
    wait_status(agg, Status.RUNNING)
    sign_in(page, site, "admin")
    for path, name in (("/", "history"), ("/etl/", "etl-status"), ("/decisions/", "why-didnt-it-run"),
                       ("/audit/", "audit-log"), ("/schedule/", "todays-schedule")):
        page.goto(site + path)
        page.wait_for_load_state("load")
        shot(page, name, full=name != "history")
    page.goto(site + "/config/")
    expect(page.locator("#schedule-preview")).not_to_contain_text("Drawing…", timeout=20_000)
    shot(page, "configuration", full=False)
    page.goto(site + f"/runs/{agg.pk}/")
    expect(page.locator("#log-lines")).to_contain_text("chunk 1")
    shot(page, "run-detail-live")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site + "/")
    shot(page, "history-narrow", full=False)
    stop_all()
