"""The broker is down at Run Job: the run row commits, then handing it to a worker fails.
The run ends FAILED at once with the reason, the console, API and `gim_job` answer with
it (no 500), and the job is not blocked until the pickup timeout."""

from __future__ import annotations

import socket
import threading
import time
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from kombu.exceptions import OperationalError as BrokerDown
from rest_framework.authtoken.models import Token

from gimmanager import clock
from gimmanager.catalog import Job, Status
from gimmanager.celery import app
from gimmanager.jobs import services
from gimmanager.jobs.models import JobRun
from gimmanager.jobs.tasks import run_job
from tests.foundation.helpers import ALICE

# on_commit callbacks run at the service's own commit, as in production
pytestmark = pytest.mark.django_db(transaction=True)

REFUSED = "Error 111 connecting to 127.0.0.1:6379. Connection refused."


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sends: list[int] = []

    def down(args: tuple[int], **kwargs: Any) -> None:
        sends.append(args[0])
        raise BrokerDown(REFUSED)

    monkeypatch.setattr(run_job, "apply_async", down)
    return sends


def test_it_fails_the_run_at_once_with_the_reason(broker_down: list[int]) -> None:
    out = services.request_run(Job.EXTRACT, by=ALICE)
    run = JobRun.objects.get()
    assert broker_down == [run.pk]
    assert out.kind == "refused" and out.run == run and not out.ok
    assert out.message.startswith("The message broker is not reachable: Error 111") and "not started" in out.message
    assert run.status == Status.FAILED and run.ended_at is not None and run.attempt is None
    assert "message broker is not reachable" in run.end_reason
    assert run.log_entries.filter(level="ERROR", message__contains="broker").exists()
    # Not left RUNNING: the next request is answered on its own merits, not SCHEDULED behind it.
    assert services.request_run(Job.EXTRACT, by=ALICE).run.status == Status.FAILED


def test_a_promoted_scheduled_run_fails_the_same_way(broker_down: list[int]) -> None:
    now = clock.now()
    held = JobRun.objects.create(job=Job.TRANSFORM, status=Status.RUNNING, by="manual", requested_by="bob",
                                 requested_at=now, started_at=now, heartbeat_at=now,
                                 attempt="00000000-0000-0000-0000-0000000000b1")
    waiting = services.request_run(Job.TRANSFORM, by=ALICE).run
    assert waiting.status == Status.SCHEDULED
    assert services.finish_run(held.pk, held.attempt, Status.COMPLETE)
    waiting.refresh_from_db()
    assert waiting.status == Status.FAILED and "broker is not reachable" in waiting.end_reason


def test_the_api_answers_409_with_the_reason(personas: dict[str, Any], broker_down: list[int]) -> None:
    token = Token.objects.create(user=personas["operator"]).key
    c = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")
    r = c.post("/api/runs/", {"job": "Job_ExtractICON"}, content_type="application/json")
    assert r.status_code == 409, r.content[:300]
    assert r.json()["kind"] == "refused" and "broker is not reachable" in r.json()["message"]
    assert r.json()["run"]["status"] == "FAILED"


def test_the_console_shows_the_reason(personas: dict[str, Any], broker_down: list[int]) -> None:
    c = Client(raise_request_exception=False)
    c.force_login(personas["operator"])
    r = c.post("/run/", {"job": "Job_ExtractICON", "params": ""}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and "broker is not reachable" in r.content.decode()
    assert "jobsChanged" in r["HX-Trigger"]  # the history shows the FAILED row


def test_gim_job_exits_non_zero_with_the_reason(broker_down: list[int]) -> None:
    with pytest.raises(CommandError, match="broker is not reachable"):
        call_command("gim_job", "run", "Job_ExtractICON", stdout=StringIO(), stderr=StringIO())


def test_a_send_to_a_broker_that_never_answers_gives_up_within_seconds() -> None:
    """A broker gone without closing its connections (the socket accepts, nothing answers):
    the socket timeouts and the publish retry policy end the send; a request is waiting."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        result: list[BaseException | None] = []

        def send() -> None:
            try:
                with app.connection_for_write(f"redis://127.0.0.1:{port}/0") as conn:
                    run_job.apply_async((0,), connection=conn)
                result.append(None)
            except BaseException as exc:
                result.append(exc)

        started = time.monotonic()
        sender = threading.Thread(target=send, daemon=True)  # daemon: a hang fails the test, not the suite
        sender.start()
        sender.join(timeout=20)
        assert result, "the send is still waiting for a broker that never answers"
        assert isinstance(result[0], BrokerDown) and time.monotonic() - started < 15
