"""While the database is unreachable, the console and the API answer 503 with a plain
message (and Retry-After), not a 500 "Server Error" or a stack trace.

Drill 3 (drills/run_drills.py) stops the real PostgreSQL and sees what the pages answer;
this test makes the same failure deterministic: the first database access of the request
raises django.db.OperationalError, as psycopg does when the server is down.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db

DOWN = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection refused'


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every page and API view fails on its first query, as when PostgreSQL is down."""
    from console import history
    from console.views import common
    from gimmanager.config import services as config_services

    def down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError(DOWN)

    monkeypatch.setattr(common.ScheduleSection, "load", classmethod(lambda cls: down()))
    monkeypatch.setattr(config_services, "current_values", down)
    monkeypatch.setattr(history, "history", down)


@pytest.mark.parametrize("path", ["/", "/config/", "/schedule/", "/audit/"])
def test_pages_answer_503_with_a_plain_message(personas: dict[str, Any], database_down: None, path: str) -> None:
    c = Client(raise_request_exception=False)
    c.force_login(personas["viewer"])
    r = c.get(path)
    body = r.content.decode()
    assert r.status_code == 503, f"GET {path} while the database is down -> {r.status_code}: {body[:200]}"
    assert "Traceback" not in body and "OperationalError" not in body and "127.0.0.1" not in body
    assert "database" in body.lower()
    assert r.has_header("Retry-After")


def test_the_api_answers_503_in_json(personas: dict[str, Any], database_down: None) -> None:
    token = Token.objects.create(user=personas["viewer"]).key
    c = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")
    r = c.get("/api/options/")
    assert r.status_code == 503, f"GET /api/options/ while the database is down -> {r.status_code}"
    assert r["Content-Type"].startswith("application/json") and "database" in r.json()["detail"].lower()


@pytest.mark.django_db(transaction=True)  # on_commit runs at the request's real commit
def test_run_job_while_the_broker_is_down_is_answered_and_not_left_waiting(
        personas: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis down (drill 2): the run row commits, then handing it to a worker fails. The user
    must get an answer, not a 500, and the run must not sit RUNNING for GIM_PICKUP_TIMEOUT
    waiting for a message that was never sent."""
    from kombu.exceptions import OperationalError as BrokerDown

    from gimmanager.jobs.models import JobRun
    from gimmanager.jobs.tasks import run_job

    def down(*args: Any, **kwargs: Any) -> Any:
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(run_job, "apply_async", down)
    token = Token.objects.create(user=personas["operator"]).key
    c = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")
    r = c.post("/api/runs/", {"job": "Job_ExtractICON"}, content_type="application/json")
    assert r.status_code != 500, "POST /api/runs/ with the broker down -> 500"
    run = JobRun.objects.filter(job="Job_ExtractICON").first()
    assert run is None or run.status != "RUNNING" or run.attempt is not None, (
        f"run {run} stays RUNNING, unclaimed, until the pickup timeout")
