"""Console test helpers: signed-in clients per persona, a run builder, htmx headers,
and the Debian chromium for Playwright."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from gimmanager import clock
from gimmanager.catalog import Job, Status
from gimmanager.jobs.models import JobRun

HTMX = {"HTTP_HX_REQUEST": "true"}


def htmx(target: str = "") -> dict[str, str]:
    """Headers of an htmx request (optionally aimed at an element id)."""
    return {**HTMX, "HTTP_HX_TARGET": target} if target else dict(HTMX)


def make_run(job: Job | str = Job.EXTRACT, status: Status | str = Status.COMPLETE, *,
             requested: datetime | None = None, started: datetime | None = None, ended: datetime | None = None,
             by: str = "scheduler", requested_by: str | None = None, **fields: Any) -> JobRun:
    """A JobRun row consistent with its status (the model's check constraint)."""
    status = Status(status)
    requested = requested or clock.now() - timedelta(minutes=10)
    if status in (Status.RUNNING, Status.COMPLETE, Status.FAILED) and started is None:
        started = requested
    if status in (Status.COMPLETE, Status.FAILED, Status.STOPPED) and ended is None:
        ended = (started or requested) + timedelta(minutes=2)
    if status is Status.SCHEDULED:
        started = ended = None
    if status is Status.RUNNING:
        ended = None
    return JobRun.objects.create(
        job=Job(job).value, status=status.value, by=by,
        requested_by=requested_by or ("scheduler" if by == "scheduler" else "alice"),
        requested_at=requested, started_at=started, ended_at=ended, **fields)


def _client(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def as_admin(personas: dict[str, Any]) -> Client:
    return _client(personas["admin"])


@pytest.fixture
def as_operator(personas: dict[str, Any]) -> Client:
    return _client(personas["operator"])


@pytest.fixture
def as_viewer(personas: dict[str, Any]) -> Client:
    return _client(personas["viewer"])


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # Debian's chromium (apt-get install chromium), not a Playwright download.
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium",
            "args": ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--disable-quic"]}
