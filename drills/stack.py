"""The real GIM Manager stack on loopback, for the fault drills and the load test.

Throwaway PostgreSQL and Redis on their own ports (drills/services.sh), a database of
its own, the web server (gunicorn), two Celery workers, the scheduler (Celery beat with
scheduler.beat:GimScheduler) and the IDB generator in live mode, each a process group
the drills can kill, stop and restart one by one. Nothing here touches the machine's
shared PostgreSQL (5432) or Redis (6379); all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
DRILLS = ROOT / "drills"
PY = sys.executable

ADMIN_PASSWORD = "drill-admin-pw-0"  # a throwaway database's administrator, not a secret


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def wait_until(pred: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = pred()
        except Exception:  # noqa: BLE001 - a server being down is what the drills are about
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Proc:
    name: str
    cmd: list[str]
    popen: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    restarts: int = 0

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass
class Stack:
    base: Path = Path(os.environ.get("GIM_DRILL_DIR", "/tmp/gim-drills"))
    pg_port: int = int(os.environ.get("GIM_DRILL_PGPORT", "5441"))
    redis_port: int = int(os.environ.get("GIM_DRILL_REDIS_PORT", "6391"))
    web_port: int = int(os.environ.get("GIM_DRILL_WEB_PORT", "8791"))
    db_name: str = "gim_drill"
    procs: dict[str, Proc] = field(default_factory=dict)
    token: str = ""
    _conn: psycopg.Connection[Any] | None = None

    # --- environment ---------------------------------------------------------------------
    @property
    def var(self) -> Path:
        return self.base / "var"

    @property
    def output_dir(self) -> Path:
        return self.base / "output"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GIM_", "CELERY_", "DATABASE"))}
        return {**keep,
                "DJANGO_SETTINGS_MODULE": "gimmanager.settings",
                "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.pg_port}/{self.db_name}",
                "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "GIM_CELERY_QUEUE": "gim-drill",
                "GIM_VAR_DIR": str(self.var),
                "DJANGO_SECRET_KEY": "drill-only-" + "x" * 50,
                "DJANGO_DEBUG": "false",
                "GIM_SECURE_COOKIES": "false",
                "GIM_ADMIN_PASSWORD": ADMIN_PASSWORD,
                # the documented defaults are 2 / 15 / 10 / 120 s; shorter bounds keep the drills short
                "GIM_HEARTBEAT_INTERVAL": "1",
                "GIM_HEARTBEAT_TIMEOUT": "8",
                "GIM_STOP_GRACE": "6",
                "GIM_PICKUP_TIMEOUT": "30",
                "GIM_LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1"}

    def services(self, action: str) -> None:
        env = {**os.environ, "SVC_DIR": str(self.base / "svc"), "PGPORT": str(self.pg_port),
               "REDIS_PORT": str(self.redis_port)}
        subprocess.run(["bash", str(DRILLS / "services.sh"), action], env=env, check=True,
                       stdout=subprocess.DEVNULL)

    def manage(self, *args: str, timeout: float = 600) -> str:
        r = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
        return r.stdout

    # --- set-up --------------------------------------------------------------------------------
    def prepare(self, *, history_hours: float = 1.0, iph: int = 300) -> None:
        for d in (self.var, self.output_dir, self.var / "logs"):
            d.mkdir(parents=True, exist_ok=True)
        self.services("start")
        with psycopg.connect(host="127.0.0.1", port=self.pg_port, user="postgres", dbname="postgres",
                             autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{self.db_name}"')
        subprocess.run(["redis-cli", "-p", str(self.redis_port), "flushall"], check=True, stdout=subprocess.DEVNULL)
        log("migrating a fresh database")
        self.manage("migrate", "--noinput", "-v0")
        self.manage("collectstatic", "--noinput", "-v0")
        self.manage("gim_bootstrap")
        self.token = self.manage("drf_create_token", "admin").split()[2]
        log(f"generating {history_hours:g} h of IDB history")
        self.manage("idb_generate", "--days", f"{history_hours / 24:.4f}", "--interactions-per-hour", str(iph),
                    "--agents", "12", "--queues", "4", "--seed", "7", "--tz", "UTC")

    def commands(self) -> dict[str, list[str]]:
        celery = [PY, "-m", "celery", "-A", "gimmanager.celery"]
        worker = [*celery, "worker", "-l", "info", "-c", "3", "-P", "prefork", "-Q", "gim-drill",
                  "--without-gossip", "--without-mingle"]
        beat = [*celery, "beat", "-l", "info", "-S", "scheduler.beat:GimScheduler", "--pidfile="]
        return {
            "web": [PY, "-m", "gunicorn", "gimmanager.wsgi", "-b", f"127.0.0.1:{self.web_port}", "-w", "2",
                    "--threads", "8", "--timeout", "60", "--graceful-timeout", "5", "--keep-alive", "5"],
            "worker1": [*worker, "-n", "drill-w1@localhost"],
            "worker2": [*worker, "-n", "drill-w2@localhost"],
            "beat": [*beat, "-s", str(self.var / "celerybeat-1")],
            "beat2": [*beat, "-s", str(self.var / "celerybeat-2")],
            "feed": [PY, "manage.py", "idb_generate", "--live", "--rate", os.environ.get("GIM_DRILL_RATE", "60"),
                     "--tick", "1", "--agents", "12", "--queues", "4", "--tz", "UTC"],
        }

    def start(self, name: str) -> Proc:
        cmd = self.commands()[name]
        p = self.procs.get(name) or Proc(name, cmd)
        if p.alive:
            return p
        p.log_path = self.var / "logs" / f"{name}.log"
        p.popen = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=p.log_path.open("ab"),
                                   stderr=subprocess.STDOUT, start_new_session=True)
        if p.name in self.procs:
            p.restarts += 1
        self.procs[name] = p
        if name.startswith("worker"):
            wait_until(lambda: p.log_path.read_bytes().count(b" ready.") > p.restarts, 60, f"{name} ready")
        if name == "web":
            wait_until(lambda: requests.get(self.url + "/accounts/login/", timeout=2).status_code == 200, 60,
                       "the web server")
        return p

    def signal(self, name: str, sig: int = signal.SIGKILL) -> None:
        p = self.procs[name]
        if p.alive:
            os.killpg(p.popen.pid, sig)  # type: ignore[union-attr]

    def kill(self, name: str) -> None:
        """SIGKILL the whole process group (a worker: its pool processes too)."""
        self.signal(name, signal.SIGKILL)
        self.procs[name].popen.wait(10)  # type: ignore[union-attr]

    def stop(self, name: str, timeout: float = 30) -> None:
        p = self.procs.get(name)
        if p is None or not p.alive:
            return
        p.popen.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        try:
            p.popen.wait(timeout)  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            os.killpg(p.popen.pid, signal.SIGKILL)  # type: ignore[union-attr]
            p.popen.wait(10)  # type: ignore[union-attr]

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name, timeout=20)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def worker_of_pid(self, pid: int) -> str | None:
        """Which worker's process group holds `pid` (a pool process)."""
        try:
            pgid = os.getpgid(pid)
        except ProcessLookupError:
            return None
        for name, p in self.procs.items():
            if name.startswith("worker") and p.alive and p.popen.pid == pgid:  # type: ignore[union-attr]
                return name
        return None

    # --- talking to it ---------------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None, timeout: float = 15) -> tuple[int, Any, float]:
        t0 = time.monotonic()
        try:
            r = requests.request(method, self.url + path, json=body, timeout=timeout,
                                 headers={"Authorization": f"Token {self.token}"})
        except requests.RequestException as exc:
            return 0, f"{type(exc).__name__}: {exc}", time.monotonic() - t0
        try:
            data = r.json()
        except ValueError:
            data = r.text
        return r.status_code, data, time.monotonic() - t0

    def options(self, **changes: dict[str, str]) -> None:
        body = {section.replace("_", "-"): opts for section, opts in changes.items()}
        status, data, _ = self.api("PATCH", "/api/options/", body)
        if status != 200:
            raise RuntimeError(f"options {body} refused: {status} {data}")

    def browser(self) -> requests.Session:
        """A signed-in browser session (cookies and CSRF token), as a console user has."""
        s = requests.Session()
        page = s.get(self.url + "/accounts/login/", timeout=10)
        token = page.text.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        r = s.post(self.url + "/accounts/login/", timeout=10, allow_redirects=False,
                   data={"username": "admin", "password": ADMIN_PASSWORD, "csrfmiddlewaretoken": token},
                   headers={"Referer": self.url + "/accounts/login/"})
        if r.status_code != 302:
            raise RuntimeError(f"sign-in failed: {r.status_code}")
        return s

    def q(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        """A query on the drill database (reconnecting after a restart); raises while it is down."""
        for attempt in range(2):
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(host="127.0.0.1", port=self.pg_port, user="postgres",
                                                 dbname=self.db_name, autocommit=True, connect_timeout=3)
                return self._conn.execute(sql, params).fetchall()
            except psycopg.OperationalError:
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def one(self, sql: str, params: Any = ()) -> Any:
        rows = self.q(sql, params)
        return rows[0][0] if rows else None

    def verify(self) -> dict[str, Any]:
        """drills/verify.py in a subprocess on the drill database."""
        r = subprocess.run([PY, str(DRILLS / "verify.py")], cwd=ROOT, env=self.env, capture_output=True, text=True,
                           timeout=900)
        if r.returncode not in (0, 1):
            raise RuntimeError(f"verify.py failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
        return json.loads(r.stdout.strip().splitlines()[-1])
