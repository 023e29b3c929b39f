"""Shared fixtures: server checks, a real Celery worker process, personas."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _require_postgres() -> None:
    import psycopg

    url = urlparse(os.environ["DATABASE_URL"])
    try:
        psycopg.connect(host=url.hostname, port=url.port or 5432, user=url.username or "postgres",
                        dbname="postgres", connect_timeout=3).close()
    except Exception as exc:
        pytest.exit(
            f"PostgreSQL is not reachable at {url.hostname}:{url.port or 5432} ({exc}).\n"
            "The tests need a real PostgreSQL: start it (on these machines: "
            "pg_ctlcluster --skip-systemctl-redirect 15 main start) or set DATABASE_URL.", returncode=3)


def _require_redis() -> None:
    import redis

    url = os.environ["CELERY_BROKER_URL"]
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except Exception as exc:
        pytest.exit(
            f"Redis is not reachable at {url} ({exc}).\nThe job tests run real Celery workers on Redis: "
            "start it (redis-server --daemonize yes --port 6379) or set CELERY_BROKER_URL.", returncode=3)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Before any test runs: if a selected test needs the database, PostgreSQL must answer
    (a missing server is named once, instead of every test failing obscurely)."""
    db_fixtures = {"db", "transactional_db", "django_db_setup", "live_server", "personas"}
    if any(item.get_closest_marker("django_db") or db_fixtures & set(getattr(item, "fixturenames", ()))
           for item in session.items):
        _require_postgres()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll until predicate() is truthy (an external process is doing the work)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class WorkerProcess:
    """A real `celery worker` (prefork, 2 processes) on the test database and Redis."""

    def __init__(self, db_name: str, extra_env: dict[str, str] | None = None):
        self.name = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.log_path = Path(os.environ["GIM_VAR_DIR"]) / f"worker-{self.name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        url = urlparse(os.environ["DATABASE_URL"])
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "gimmanager.settings",
               "DATABASE_URL": url._replace(path=f"/{db_name}").geturl(), **(extra_env or {})}
        env.pop("GIM_TEST_DATABASE_NAME", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "gimmanager.celery", "worker", "-l", "info",
             "-c", "2", "-P", "prefork", "-Q", os.environ["GIM_CELERY_QUEUE"], "-n", self.name,
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=self.log_path.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True)
        wait_for(lambda: b"ready." in self.log_path.read_bytes() or self.proc.poll() is not None, 60,
                 "the Celery worker to start")
        if self.proc.poll() is not None:
            raise RuntimeError(f"Celery worker exited:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            # The main process only (a warm shutdown, as from a service manager):
            # it stops its own pool processes.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@pytest.fixture(scope="module")
def worker_env() -> dict[str, str]:
    """Extra environment for this module's worker (override to swap job bodies)."""
    return {}


@pytest.fixture(scope="module")
def worker(django_db_setup: Any, django_db_blocker: Any, worker_env: dict[str, str]) -> Iterator[WorkerProcess]:
    """A real worker for the module's tests (module scope, so a module can give it its own bodies)."""
    from django.db import connection

    _require_redis()
    with django_db_blocker.unblock():
        db_name = connection.settings_dict["NAME"]
    w = WorkerProcess(db_name, worker_env)
    yield w
    w.stop()


@pytest.fixture
def personas(db: Any) -> dict[str, Any]:
    from console.roles import ensure_roles
    from django.contrib.auth.models import User

    groups = ensure_roles()
    people = {}
    for name, group in (("admin", "Administrator"), ("operator", "Operator"), ("viewer", "Viewer")):
        user = User.objects.create_user(name, f"{name}@example.com", "pw-" + name)
        user.groups.add(groups[group])
        people[name] = user
    return people


