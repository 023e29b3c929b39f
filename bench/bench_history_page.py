"""Benchmark of the Job History page with 1,000,000 job runs.

    .venv/bin/python bench/bench_history_page.py [--rows 1000000] [--requests 200]
                                                 [--clients 50] [--seconds 20]

1. Fills a database of its own (DATABASE_URL, default gim_bench_history on the
   local PostgreSQL) with N JobRun rows by one set-based INSERT ... SELECT
   generate_series (about a minute for a million), plus one RUNNING and one
   SCHEDULED run so the page is in its "jobs are active" state.
2. Server time of the first page and of the other common views (filters,
   sorts, the next page), in process with the Django test client: median and
   95th percentile over --requests requests each.
3. Load: gunicorn serves the site; a second process (this script with --load)
   runs --clients threads that fetch the first page for --seconds. Reports
   client-side latency, throughput, errors, and the server time of every
   request from gunicorn's access log (%(D)s).
4. Prints the figures and writes them to BENCHMARKS-console.md.

Not a test: it takes a few minutes and a database of ~400 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/gim_bench_history"
OUT = ROOT / "BENCHMARKS-console.md"


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


# --- load generator (the second process) --------------------------------------------------


def load(url: str, cookie: str, clients: int, seconds: float) -> None:
    """Run `clients` threads fetching `url` for `seconds`; print one JSON line of results."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        opener = urllib.request.build_opener()
        opener.addheaders = [("Cookie", f"sessionid={cookie}")]
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            try:
                with opener.open(url, timeout=30) as r:
                    r.read()
                    ok = r.status == 200
                    key = "" if ok else str(r.status)
            except urllib.error.HTTPError as exc:
                key = str(exc.code)
            except Exception as exc:  # connection refused/reset: an error to report
                key = type(exc).__name__
            dt = time.perf_counter() - t0
            with lock:
                if key:
                    errors[key] = errors.get(key, 0) + 1
                else:
                    latencies.append(dt)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"latencies": latencies, "errors": errors, "elapsed": time.monotonic() - t0}))


# --- the benchmark -------------------------------------------------------------------------


def setup_django(db_url: str, var_dir: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "gimmanager.settings"
    os.environ.setdefault("GIM_VAR_DIR", var_dir)
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def create_database(db_url: str) -> None:
    import psycopg

    u = urlparse(db_url)
    name = u.path.lstrip("/")
    with psycopg.connect(host=u.hostname, port=u.port or 5432, user=u.username or "postgres", dbname="postgres",
                         autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


FILL = """
INSERT INTO jobs_jobrun (job, status, "by", requested_by, params, note, requested_at, started_at, ended_at,
                         progress_done, progress_total, progress_text, celery_task_id, worker,
                         stop_requested_by, end_reason)
SELECT (ARRAY['Job_ExtractICON','Job_TransformGIM','Job_ExtractICON','Job_TransformGIM','Job_UpdateStats',
              'Job_AggregateGIM','Job_MaintainGIM','Job_ExportGIM'])[1 + g %% 8],
       CASE WHEN g %% 97 = 0 THEN 'FAILED' WHEN g %% 89 = 0 THEN 'STOPPED' ELSE 'COMPLETE' END,
       CASE WHEN g %% 50 = 0 THEN 'manual' ELSE 'scheduler' END,
       CASE WHEN g %% 50 = 0 THEN 'operator' ELSE 'scheduler' END,
       CASE WHEN g %% 400 = 6 THEN '-insertPendingAgg ALLSETS:2014-05-01:2014-05-31' ELSE '' END,
       '',
       %(now)s - g * interval '1 minute',
       %(now)s - g * interval '1 minute',
       %(now)s - g * interval '1 minute' + (g %% 600) * interval '1 second',
       g %% 10000, NULL, '', '', 'bench:1', '',
       CASE WHEN g %% 97 = 0 THEN 'IntegrityError: duplicate key value violates unique constraint' ELSE '' END
FROM generate_series(1, %(rows)s) AS g
"""


def fill(rows: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from gimmanager import clock
    from gimmanager.catalog import Job, Status
    from gimmanager.jobs.models import JobRun

    call_command("migrate", verbosity=0)
    have = JobRun.objects.count()
    if have >= rows:
        print(f"database already holds {have:,} runs")
        return
    print(f"filling {rows:,} job runs ...", flush=True)
    t0 = time.perf_counter()
    JobRun.objects.all().delete()
    now = clock.now()
    with connection.cursor() as cur:
        cur.execute(FILL, {"now": now, "rows": rows})
        cur.execute("ANALYZE jobs_jobrun")
    JobRun.objects.create(job=Job.EXTRACT, status=Status.RUNNING, by="scheduler", requested_by="scheduler",
                          requested_at=now, started_at=now, progress_done=1200, progress_total=5000)
    JobRun.objects.create(job=Job.EXTRACT, status=Status.SCHEDULED, by="manual", requested_by="operator",
                          requested_at=now)
    print(f"filled in {time.perf_counter() - t0:.0f} s", flush=True)


def bench_views(n: int) -> tuple[list[tuple[str, str, float, float]], str]:
    """Server time of the page variants, in process (Django test client)."""
    from django.contrib.auth.models import User
    from django.test import Client

    from console.roles import ensure_roles

    user, _ = User.objects.get_or_create(username="bench-operator")
    user.groups.add(ensure_roles()["Operator"])
    from console import history as hist
    from console.views.common import local_zone

    c = Client(HTTP_HOST="127.0.0.1")
    c.force_login(user)
    assert c.get("/").status_code == 200
    after = hist.history(hist.Filters(), hist.DEFAULT_SORT, local_zone()).next
    variants = [
        ("first page (newest first)", "/", {}),
        ("Refresh / auto-refresh (htmx, table only)", "/",
         {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "history-grid"}),
        ("next page (cursor)", f"/?after={after}", {}),
        ("filter: job", "/?job=Job_MaintainGIM", {}),
        ("filter: status FAILED", "/?status=FAILED", {}),
        ("filter: date range (one day)", "/?date_from=2025-06-01&date_to=2025-06-01", {}),
        ("filter: text (common: 'operator')", "/?q=operator", {}),
        ("sort: Name", "/?sort=job", {}),
        ("sort: Status", "/?sort=-status", {}),
        ("sort: Start Time", "/?sort=-started", {}),
        ("sort: Duration (no index)", "/?sort=-duration", {}),
        ("API: GET /api/runs/", "/api/runs/", {}),
    ]
    out = []
    for label, url, headers in variants:
        rounds = n if "Duration" not in label else max(10, n // 10)
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            r = c.get(url, **headers)
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, (url, r.status_code)
        out.append((label, url, statistics.median(times), pct(times, 95)))
        print(f"  {label:45} median {out[-1][2]:7.1f} ms   p95 {out[-1][3]:7.1f} ms", flush=True)
    cookie = c.cookies["sessionid"].value
    return out, cookie


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_load(db_url: str, var_dir: str, cookie: str, clients: int, seconds: float, workers: int) -> dict:
    port = free_port()
    log = Path(var_dir) / "access.log"
    log.unlink(missing_ok=True)
    env = {**os.environ, "DATABASE_URL": db_url, "DJANGO_SETTINGS_MODULE": "gimmanager.settings",
           "GIM_VAR_DIR": var_dir}
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    server = subprocess.Popen(
        [gunicorn, "gimmanager.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", str(workers),
         "--backlog", "2048", "--access-logfile", str(log), "--access-logformat", "%(U)s %(s)s %(D)s",
         "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2).read()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        # Warm every worker's connection and template cache.
        subprocess.run([sys.executable, __file__, "--load", url, cookie, "--clients", str(workers * 2),
                        "--seconds", "2"], check=True, capture_output=True, cwd=ROOT)
        log.write_text("")
        done = subprocess.run([sys.executable, __file__, "--load", url, cookie, "--clients", str(clients),
                               "--seconds", str(seconds)], check=True, capture_output=True, text=True, cwd=ROOT)
        result = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(15)
    server_ms = [int(line.split()[2]) / 1000 for line in log.read_text().splitlines()
                 if line.startswith("/ ") and line.split()[1] == "200"]
    lat = [x * 1000 for x in result["latencies"]]
    return {"clients": clients, "seconds": result["elapsed"], "workers": workers, "requests": len(lat),
            "rps": len(lat) / result["elapsed"], "errors": result["errors"],
            "client_median": statistics.median(lat), "client_p95": pct(lat, 95), "client_p99": pct(lat, 99),
            "server_median": statistics.median(server_ms), "server_p95": pct(server_ms, 95),
            "server_p99": pct(server_ms, 99), "server_n": len(server_ms)}


def plan_of_first_page() -> str:
    from django.db import connection

    from gimmanager.jobs.models import JobRun

    # The query console.history runs for the first page in the default order.
    sql, params = JobRun.objects.order_by("-requested_at", "-id")[:51].query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(r[0] for r in cur.fetchall())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--workers", type=int, default=max(2, (os.cpu_count() or 1) * 2))
    ap.add_argument("--load", nargs=2, metavar=("URL", "SESSION"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.load:
        load(args.load[0], args.load[1], args.clients, args.seconds)
        return
    db_url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DB
    var_dir = tempfile.mkdtemp(prefix="gim-bench-")
    (Path(var_dir) / "staticfiles").mkdir()  # whitenoise warns when STATIC_ROOT is missing
    create_database(db_url)
    setup_django(db_url, var_dir)
    fill(args.rows)
    from gimmanager.jobs.models import JobRun

    total = JobRun.objects.count()
    print(f"history rows: {total:,}\nserver time in process ({args.requests} requests each):", flush=True)
    views, cookie = bench_views(args.requests)
    plan = plan_of_first_page()
    print(f"load: {args.clients} concurrent clients for {args.seconds:g} s against gunicorn "
          f"({args.workers} sync workers) ...", flush=True)
    ld = bench_load(db_url, var_dir, cookie, args.clients, args.seconds, args.workers)
    ld["loadavg"] = os.getloadavg()  # other processes on the machine share its CPUs
    print(f"  {ld['requests']} requests, {ld['rps']:.0f}/s, errors: {ld['errors'] or 'none'}")
    print(f"  server time: median {ld['server_median']:.1f} ms, p95 {ld['server_p95']:.1f} ms, "
          f"p99 {ld['server_p99']:.1f} ms")
    print(f"  client latency: median {ld['client_median']:.1f} ms, p95 {ld['client_p95']:.1f} ms, "
          f"p99 {ld['client_p99']:.1f} ms")
    write_report(total, views, ld, plan, args)
    print(f"written to {OUT.relative_to(ROOT)}")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _db import summary

    label, _, median, p95 = views[0]
    summary(f"Job History {label} at {total:,} runs (server time)", f"{median:.1f} ms median, {p95:.1f} ms p95",
            "< 100 ms")
    summary(f"{args.clients} concurrent clients, {args.seconds:g} s",
            f"{ld['server_median']:.1f} ms median, {ld['server_p95']:.1f} ms p95 server time; "
            f"errors: {ld['errors'] or 'none'}", "no errors")


def write_report(total: int, views: list[tuple[str, str, float, float]], ld: dict, plan: str,
                 args: argparse.Namespace) -> None:
    import platform

    import django
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg = cur.fetchone()[0]
    first = views[0]
    verdict = "meets" if first[2] < 100 else "misses"
    lines = [
        "# Console benchmark: the Job History page",
        "",
        f"Produced by `bench/bench_history_page.py` on {time.strftime('%Y-%m-%d %H:%M %Z')}: "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, Django {django.get_version()}, "
        f"PostgreSQL {pg}.",
        "",
        f"History: **{total:,} job runs** (one a minute over ~{total // 1440:,} days; 1% FAILED, 1% STOPPED, "
        "2% manual), plus one RUNNING and one SCHEDULED run, so the page is in its auto-refreshing state.",
        "",
        f"**First page: median {first[2]:.1f} ms, p95 {first[3]:.1f} ms server time** "
        f"({verdict} the aim of 100 ms).",
        "",
        f"## Server time per view (Django test client, in process, {args.requests} requests each)",
        "",
        "Everything the request does: session, user and permissions, the options (banners, zone), the page "
        "query, \"anything active?\", the planner's row estimate, template rendering. No `COUNT(*)`.",
        "",
        "| View | URL | median ms | p95 ms |",
        "|---|---|---:|---:|",
    ]
    lines += [f"| {label} | `{url[:60]}` | {med:.1f} | {p95:.1f} |" for label, url, med, p95 in views]
    lines += [
        "",
        f"## Under load: {ld['clients']} concurrent clients from a second process",
        "",
        f"gunicorn with {ld['workers']} sync workers on loopback; {ld['clients']} threads in another process "
        f"fetch the first page (signed in) for {ld['seconds']:.0f} s.",
        "",
        "| | median ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|",
        f"| server time (gunicorn %(D)s, {ld['server_n']} requests) | {ld['server_median']:.1f} | "
        f"{ld['server_p95']:.1f} | {ld['server_p99']:.1f} |",
        f"| client latency (includes queueing for a worker) | {ld['client_median']:.1f} | {ld['client_p95']:.1f} "
        f"| {ld['client_p99']:.1f} |",
        "",
        f"Throughput {ld['rps']:.0f} pages/s, {ld['requests']} pages, errors: "
        f"{', '.join(f'{k}: {v}' for k, v in ld['errors'].items()) or 'none'}.",
        "",
        f"Client latency is mostly waiting for one of the {ld['workers']} workers ({ld['clients']} clients). "
        f"The server time under load is the in-process time stretched by CPU contention: {os.cpu_count()} CPUs "
        "shared by the workers, PostgreSQL and the load generator's threads (load average after the run: "
        f"{', '.join(f'{x:.1f}' for x in ld['loadavg'])}; other work on the machine counts too).",
        "",
        "## Plan of the first page's query",
        "",
        "```",
        plan,
        "```",
        "",
        "Notes:",
        "- Sorting by Duration sorts an expression no index covers: PostgreSQL scans and sorts the filtered rows "
        "(a top-N heap sort over all finished runs without a filter). An expression index on "
        "`(ended_at - started_at)` would make it as fast as the others.",
        "- A text filter that matches rarely scans `jobrun_recent` until it has a page of matches; a trigram "
        "index (pg_trgm) would bound it.",
        "",
    ]
    OUT.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
