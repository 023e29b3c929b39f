"""Job-control latency with a real Celery worker on Redis:

- Run Job -> RUNNING: from the request (services.request_run, what the console, API and
  gim_job call) until a worker has claimed the run (attempt and heartbeat_at set);
- Stop -> STOPPED: from the stop request (services.stop_run) until the run is STOPPED.
  A worker notices a stop on its next heartbeat (GIM_HEARTBEAT_INTERVAL, 2 s by default),
  so this is bounded by one interval plus the body's next safe point.

    python bench/bench_control_latency.py [--runs 30] [--heartbeat SECONDS ...] [--json FILE]

Uses its own database (gim_bench_control on the server of DATABASE_URL, default the local
PostgreSQL) and Redis database 10 (CELERY_BROKER_URL to change it), and a queue of its own.
The job body is an idle loop that checks for a stop every 50 ms (a job between two chunks),
so the figures are the control path's, not a job's work.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

BODY = "bench.bench_control_latency.idle_body"


def idle_body(ctx) -> None:  # type: ignore[no-untyped-def]
    """Idles until asked to stop, at most 5 minutes (a forgotten run ends by itself)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ctx.check_stop()
        ctx.wait(0.05)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "gimmanager.celery", "worker", "-l", "info", "-c", "2",
         "-P", "prefork", "-Q", env["GIM_CELERY_QUEUE"], "-n", f"bench-{os.getpid()}@localhost",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)
    return proc


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def measure(runs: int, heartbeat: float) -> dict[str, float | int]:
    from gimmanager.catalog import Job, Status
    from gimmanager.jobs import services
    from gimmanager.jobs.models import JobRun
    from gimmanager.jobs.services import Requester

    by = Requester.cli("bench")
    env = {**os.environ, "GIM_HEARTBEAT_INTERVAL": str(heartbeat), "GIM_JOB_BODIES": json.dumps(
        {"Job_ExtractICON": BODY, "Job_TransformGIM": BODY})}
    log = Path(os.environ["GIM_VAR_DIR"]) / f"worker-hb{heartbeat}.log"
    worker = start_worker(env, log)
    to_running, to_stopped = [], []
    rng = random.Random(1)
    try:
        for i in range(runs + 3):  # 3 warm-up runs
            t0 = time.perf_counter()
            outcome = services.request_run(Job.EXTRACT, by=by)
            assert outcome.kind == "started", outcome.message
            run_id = outcome.run.pk  # type: ignore[union-attr]
            while not JobRun.objects.filter(pk=run_id, heartbeat_at__isnull=False).exists():
                if time.perf_counter() - t0 > 30:
                    raise SystemExit(f"run {run_id} was not claimed within 30 s; see {log}")
                time.sleep(0.002)
            t1 = time.perf_counter()
            # the user clicks Stop at a random moment of the heartbeat cycle
            time.sleep(0.2 + rng.uniform(0, heartbeat))
            t2 = time.perf_counter()
            services.stop_run(run_id, by=by)
            while JobRun.objects.filter(pk=run_id, status=Status.RUNNING).exists():
                if time.perf_counter() - t2 > 60:
                    raise SystemExit(f"run {run_id} did not stop within 60 s; see {log}")
                time.sleep(0.002)
            t3 = time.perf_counter()
            status = JobRun.objects.values_list("status", flat=True).get(pk=run_id)
            assert status == Status.STOPPED, status
            if i >= 3:
                to_running.append(t1 - t0)
                to_stopped.append(t3 - t2)
    finally:
        stop_worker(worker)
    return {
        "heartbeat_interval_s": heartbeat, "runs": runs,
        "run_to_running_median_ms": round(statistics.median(to_running) * 1000, 1),
        "run_to_running_p95_ms": round(pct(to_running, 95) * 1000, 1),
        "run_to_running_max_ms": round(max(to_running) * 1000, 1),
        "stop_to_stopped_median_ms": round(statistics.median(to_stopped) * 1000, 1),
        "stop_to_stopped_p95_ms": round(pct(to_stopped, 95) * 1000, 1),
        "stop_to_stopped_max_ms": round(max(to_stopped) * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--heartbeat", type=float, nargs="+", default=[2.0, 0.5],
                        help="GIM_HEARTBEAT_INTERVAL values to measure (default: 2.0, the default, and 0.5)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/10")
    os.environ["GIM_CELERY_QUEUE"] = f"gim-bench-control-{os.getpid()}"
    os.environ.setdefault("GIM_VAR_DIR", "/tmp/gim-bench-control")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-a-secret")
    Path(os.environ["GIM_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    from _db import machine, summary, use_database

    use_database("gim_bench_control")
    results = [measure(args.runs, hb) for hb in args.heartbeat]
    print(f"machine: {machine()}; broker {os.environ['CELERY_BROKER_URL']}; prefork worker -c 2")
    print("| heartbeat interval | runs | Run Job -> RUNNING median / p95 / max | Stop -> STOPPED median / p95 / max |")
    print("|---|---|---|---|")
    for r in results:
        print(f"| {r['heartbeat_interval_s']:g} s | {r['runs']} | {r['run_to_running_median_ms']} / "
              f"{r['run_to_running_p95_ms']} / {r['run_to_running_max_ms']} ms | {r['stop_to_stopped_median_ms']} / "
              f"{r['stop_to_stopped_p95_ms']} / {r['stop_to_stopped_max_ms']} ms |")
    for r in results:
        hb = f"heartbeat {r['heartbeat_interval_s']:g} s"
        summary(f"Run Job -> RUNNING ({hb})", f"{r['run_to_running_median_ms']} ms median, "
                f"{r['run_to_running_p95_ms']} ms p95")
        summary(f"Stop -> STOPPED ({hb})", f"{r['stop_to_stopped_median_ms']} ms median, "
                f"{r['stop_to_stopped_p95_ms']} ms p95", "one heartbeat interval")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
