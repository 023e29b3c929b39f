"""10,000 Run/Stop/Cancel requests in a burst through the JSON API, from several client
processes at once (each with its own token and database connection), while a fake worker
claims and finishes runs and a sampler watches the job table.

Proves: every request is answered (2xx/4xx, never a 5xx or an exception); the
one-RUNNING-instance and one-SCHEDULED-request rules hold at every sample and at the
end; every row's status and times agree; every stop or cancel is recorded with who
asked. The broker is left out (runs are claimed by the fake worker, not Celery): this
races the service and the database, which is where the rules live.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from gimmanager import clock
from gimmanager.catalog import Status
from gimmanager.jobs import services
from gimmanager.jobs.models import JobRun
from tests.foundation.helpers import always_in_aggregation_window, set_options
from tests.stress import burst_client

pytestmark = pytest.mark.django_db(transaction=True)

TOTAL = int(os.environ.get("GIM_BURST_TOTAL", "10000"))
CLIENTS = 4
DEADLINE = 600  # seconds: the burst stops by itself even on a slow machine (53 requests/s: 190 s)


@pytest.fixture(autouse=True)
def no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "_enqueue_on_commit", lambda run: None)
    monkeypatch.setattr(services, "_revoke", lambda task_id, terminate: None)


def _violations() -> list[tuple[str, str, int]]:
    with connection.cursor() as cur:
        cur.execute("SELECT job, status, count(*) FROM jobs_jobrun WHERE status IN ('RUNNING', 'SCHEDULED') "
                    "GROUP BY job, status HAVING count(*) > 1")
        return list(cur.fetchall())


def test_ten_thousand_run_and_stop_requests(personas: dict[str, Any]) -> None:
    always_in_aggregation_window()  # so that Job_AggregateGIM can be started and stopped by hand too
    set_options(run_aggregates="false")
    tokens = [Token.objects.get_or_create(user=personas[r])[0].key for r in ("operator", "admin")]
    samples, bad_samples = [0], []
    lock = threading.Lock()
    stop_all = threading.Event()
    # The clients are processes (the GIL would cap threads at one core), spawned (see burst_client);
    # they share a ticket counter and the deadline, and send their counts back through a queue.
    ctx = multiprocessing.get_context("spawn")
    issued = ctx.Value("i", 0)
    results = ctx.Queue()
    deadline = time.time() + DEADLINE
    clients = [ctx.Process(target=burst_client.run, args=(n, tokens[n % 2], issued, deadline, TOTAL,
                                                          connection.settings_dict["NAME"], results))
               for n in range(CLIENTS)]
    started = time.monotonic()
    for p in clients:
        p.start()

    def fake_worker() -> None:
        """Claims RUNNING runs as a worker would, honours stops, completes the others."""
        rng = random.Random(99)
        claimed: dict[int, uuid.UUID] = {}
        try:
            while not stop_all.is_set():
                for run_id in JobRun.objects.filter(status=Status.RUNNING, attempt__isnull=True).values_list(
                        "id", flat=True):
                    attempt = uuid.uuid4()
                    if JobRun.objects.filter(pk=run_id, status=Status.RUNNING, attempt__isnull=True).update(
                            attempt=attempt, worker="burst-fake", heartbeat_at=clock.now()):
                        claimed[run_id] = attempt
                for run_id, attempt in list(claimed.items()):
                    row = JobRun.objects.filter(pk=run_id).values("status", "stop_requested_at").first()
                    if row is None or row["status"] != Status.RUNNING:
                        claimed.pop(run_id)
                    elif row["stop_requested_at"] is not None:
                        services.finish_run(run_id, attempt, Status.STOPPED, reason="stopped at a safe point")
                        claimed.pop(run_id)
                    elif rng.random() < 0.2:
                        services.finish_run(run_id, attempt, Status.COMPLETE)
                        claimed.pop(run_id)
                time.sleep(0.01)
        finally:
            connection.close()

    def sampler() -> None:
        try:
            while not stop_all.is_set():
                found = _violations()
                with lock:
                    samples[0] += 1
                    if found:
                        bad_samples.append(found)
                time.sleep(0.02)
        finally:
            connection.close()

    helpers = [threading.Thread(target=fake_worker), threading.Thread(target=sampler)]
    for t in helpers:
        t.start()
    answers: Counter[int] = Counter()
    kinds: Counter[str] = Counter()
    errors: list[str] = []
    for _ in clients:
        a, k, e = results.get(timeout=DEADLINE + 120)
        answers.update(a)
        kinds.update(k)
        errors += e
    for p in clients:
        p.join(30)
    stop_all.set()
    for t in helpers:
        t.join()
    elapsed = time.monotonic() - started
    answered = sum(answers.values())
    print(f"\n{answered} requests in {elapsed:.1f} s ({answered / elapsed:.0f}/s) with {CLIENTS} clients: "
          f"{dict(answers)}; outcomes {dict(kinds)}; {samples[0]} samples of the job table")

    # the rules first: they must hold whatever else went wrong
    assert samples[0] > 50 and not bad_samples, bad_samples[:3]
    assert not _violations()
    # every row is consistent; every stop and cancel says who asked
    for run in JobRun.objects.filter(status=Status.STOPPED):
        assert run.stop_requested_by in ("operator", "admin") and run.end_reason, run
    assert JobRun.objects.filter(status__in=[Status.COMPLETE, Status.FAILED, Status.STOPPED],
                                 ended_at__isnull=True).count() == 0
    # then: every request answered, none with a server error
    assert not errors, f"{len(errors)} requests raised instead of answering, e.g. {errors[:2]}"
    assert answered + len(errors) == TOTAL, f"only {answered + len(errors)} of {TOTAL} requests were made in time"
    assert not [s for s in answers if s >= 500], dict(answers)
    assert set(answers) <= {200, 201, 202, 404, 409}, dict(answers)
    assert kinds["started"] and kinds["scheduled"] and kinds["stopping"] and kinds["cancelled"], kinds


def test_a_request_that_keeps_losing_the_race_is_answered_not_raised(monkeypatch: pytest.MonkeyPatch,
                                                                        personas: dict[str, Any]) -> None:
    """Found by the burst above: under contention request_run can lose the insert race twice in a
    row (a SCHEDULED row appears, is promoted, another appears...), and its second IntegrityError
    escapes as a 500. "Refusals never raise a server error: they return the reason." Here the race
    is lost on every attempt, deterministically."""
    from django.db import IntegrityError

    def always_lose(*args: Any, **kwargs: Any) -> Any:
        raise IntegrityError('duplicate key value violates unique constraint "jobrun_one_scheduled"')

    monkeypatch.setattr(services, "_carry_out", always_lose)
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=personas['operator'])[0].key}")
    r = api.post("/api/runs/", {"job": "Job_ExtractICON"}, format="json")
    assert r.status_code == 409 and r.data["kind"] == "refused", (r.status_code, r.content[:300])
    assert not JobRun.objects.exists()
