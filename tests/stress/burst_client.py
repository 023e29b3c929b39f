"""One API client of the burst test (tests/stress/test_burst.py), in a process of its own.

The process is spawned, not forked: a forked child inherits the parent's database
connection objects, and after a session of other tests (a browser's event loop, threads
of earlier tests) a child was seen talking over a socket the parent still held, which
corrupts both conversations. A spawned child starts empty and opens its own connection.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter
from typing import Any

JOBS = ["Job_ExtractICON", "Job_TransformGIM", "Job_MaintainGIM", "Job_AggregateGIM", "Job_UpdateStats"]


def run(n: int, token: str, issued: Any, deadline: float, total: int, database: str, results: Any) -> None:
    """Run, Stop or Cancel through the API until the tickets or the time run out; counts to `results`."""
    import django
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = database  # the test database, before any connection
    django.setup()
    from django.db import connections
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    from gimmanager.catalog import Status
    from gimmanager.jobs import services
    from gimmanager.jobs.models import JobRun

    setup_test_environment()  # as pytest-django does in the test process (the test client's host)
    # As in the test process: the service and the database are raced, not the broker.
    services._enqueue_on_commit = lambda run: None
    services._revoke = lambda task_id, terminate: None

    rng = random.Random(n)
    api = APIClient(raise_request_exception=True)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    answers: Counter[int] = Counter()
    kinds: Counter[str] = Counter()
    errors: list[str] = []
    ids: list[int] = [1]
    try:
        for i in itertools.count():
            with issued.get_lock():
                if issued.value >= total or time.time() > deadline:
                    break
                issued.value += 1
            if i % 20 == 0:  # what a script would see in GET /api/runs/?status=RUNNING
                ids = list(JobRun.objects.filter(status__in=[Status.RUNNING, Status.SCHEDULED])
                           .values_list("id", flat=True)) or [1]
            roll = rng.random()
            try:
                if roll < 0.5:
                    r = api.post("/api/runs/", {"job": rng.choice(JOBS)}, format="json")
                else:
                    action = "stop" if roll < 0.85 else "cancel"
                    r = api.post(f"/api/runs/{rng.choice(ids)}/{action}/", format="json")
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            answers[r.status_code] += 1
            if r.status_code < 500 and isinstance(getattr(r, "data", None), dict) and "kind" in r.data:
                kinds[r.data["kind"]] += 1
    finally:
        connections.close_all()
        results.put((answers, kinds, errors))
