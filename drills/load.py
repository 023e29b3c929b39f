"""Load: 50 concurrent console users for a few minutes while the scheduler runs 1-minute
ETL cycles (with aggregation, statistics and export every minute, and live IDB traffic).

    .venv/bin/python drills/load.py [--clients 50] [--minutes 3] [--no-report]

The same stack as the drills (drills/stack.py, throwaway servers on their own ports).
Each client signs in with its own session and behaves as the pages make a browser
behave: 70 % watch the job history (the full page, then the table's auto-refresh, an
htmx GET every 3 s while jobs are active, as history.html polls); 30 % watch a run's
detail page (the page, then its live log poll, an htmx GET every 2 s, as
run_detail.html polls, moving to the newest run when the watched one has ended, i.e.
HTTP 286). Proves: no error (every answer 200 or 286), and reports the tail latency
(p50 / p95 / p99 / max) per kind of request, into BENCHMARKS-stress.md. It stops by itself.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import requests  # noqa: E402
from stack import ROOT, Stack, log, wait_until  # noqa: E402

REPORT = ROOT / "BENCHMARKS-stress.md"
HTMX = {"HX-Request": "true"}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run_drills import normal_options

    s = Stack()
    lat: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    retried = [0]
    lock = threading.Lock()
    try:
        s.prepare(history_hours=2)
        s.start("web")
        normal_options(s)
        for name in ("worker1", "worker2", "beat", "feed"):
            s.start(name)
        wait_until(lambda: s.one("SELECT COUNT(*) FROM jobs_jobrun WHERE status = 'COMPLETE'") >= 4, 240,
                   "the first ETL cycles")
        log(f"signing in {args.clients} users")
        sessions = [s.browser() for _ in range(args.clients)]
        stop_at = time.monotonic() + args.minutes * 60

        def timed(kind: str, session: object, url: str, headers: dict[str, str] | None = None) -> object | None:
            if time.monotonic() > stop_at + 1:
                return None  # the test is over: no request after the end
            t0 = time.monotonic()
            try:
                try:
                    r = session.get(s.url + url, headers=headers or {}, timeout=30)  # type: ignore[attr-defined]
                except requests.ConnectionError:
                    # The server closed an idle keep-alive connection just as it was reused (gunicorn's
                    # default keep-alive of 2 s is the live poll's period; the project now sets 5 s): a
                    # browser silently retries such an idempotent GET on a new connection, and so does
                    # this client, once, and counts it.
                    with lock:
                        retried[0] += 1
                    r = session.get(s.url + url, headers=headers or {}, timeout=30)  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - counted
                with lock:
                    errors.append(f"{kind} {url}: {type(exc).__name__}: {str(exc)[:120]}")
                return None
            dt = time.monotonic() - t0
            with lock:
                lat[kind].append(dt)
                if r.status_code not in (200, 286):
                    errors.append(f"{kind} {url}: HTTP {r.status_code}")
            return r

        def newest_run() -> int:
            return int(s.one("SELECT MAX(id) FROM jobs_jobrun WHERE started_at IS NOT NULL") or 1)

        def history_user(session: object, rng: random.Random) -> None:
            timed("history page", session, "/")
            while time.monotonic() < stop_at:
                time.sleep(3 + rng.uniform(-0.3, 0.3))
                timed("history auto-refresh", session, "/", {**HTMX, "HX-Target": "history-grid",
                                                              "HX-Current-URL": s.url + "/"})

        def detail_user(session: object, rng: random.Random) -> None:
            while time.monotonic() < stop_at:
                run = newest_run()
                page = timed("run detail page", session, f"/runs/{run}/")
                m = re.search(r"live/\?after=(\d+)", getattr(page, "text", "") or "")
                after = m.group(1) if m else "0"
                while time.monotonic() < stop_at:
                    time.sleep(2 + rng.uniform(-0.2, 0.2))
                    r = timed("run live poll", session, f"/runs/{run}/live/?after={after}", HTMX)
                    if r is None or r.status_code == 286:  # type: ignore[attr-defined]
                        break  # the run ended: go to the newest one, as a user would
                    m = re.search(r"live/\?after=(\d+)", r.text)  # type: ignore[attr-defined]
                    after = m.group(1) if m else after

        threads = []
        for i, session in enumerate(sessions):
            rng = random.Random(i)
            target = detail_user if i % 10 < 3 else history_user
            threads.append(threading.Thread(target=target, args=(session, rng), daemon=True))
        t0 = time.monotonic()
        log(f"{args.clients} clients for {args.minutes:g} min")
        for t in threads:
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join(args.minutes * 60 + 60)
        elapsed = time.monotonic() - t0
        cycles = s.one("SELECT COUNT(*) FROM jobs_jobrun WHERE job = 'Job_ExtractICON' AND status = 'COMPLETE' "
                       "AND started_at > now() - %s * interval '1 second'", (elapsed,))
        failed_runs = s.one("SELECT COUNT(*) FROM jobs_jobrun WHERE status = 'FAILED'")
    finally:
        s.stop_all()
        s.services("stop")

    total = sum(len(v) for v in lat.values())
    rows = ["| request | count | p50 ms | p95 ms | p99 ms | max ms |", "|---|---|---|---|---|---|"]
    for kind, values in sorted(lat.items()) + [("all", [x for v in lat.values() for x in v])]:
        rows.append(f"| {kind} | {len(values)} | {statistics.median(values) * 1000:.0f} | {pct(values, 95) * 1000:.0f} "
                    f"| {pct(values, 99) * 1000:.0f} | {max(values) * 1000:.0f} |")
    summary = (f"{args.clients} clients, {elapsed / 60:.1f} min, {total} requests ({total / elapsed:.1f}/s), "
               f"{len(errors)} errors ({retried[0]} GETs retried once on a new connection after the server had "
               f"closed the kept-alive one); meanwhile {cycles} ETL cycles completed, {failed_runs} runs FAILED")
    print(summary)
    print("\n".join(rows))
    if errors:
        print("errors:", errors[:10])
    if not args.no_report:
        block = "\n".join(["<!-- load:start -->",
                           f"### Console load ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
                           "`.venv/bin/python drills/load.py" + (f" --clients {args.clients}" if args.clients != 50 else "")
                           + (f" --minutes {args.minutes:g}" if args.minutes != 3 else "") + "` — gunicorn -w 2 "
                           "--threads 8 on the same 2-core machine as PostgreSQL, Redis, two workers, the scheduler "
                           "and the feed.", "", summary + ".", "", *rows, "<!-- load:end -->"])
        text = REPORT.read_text() if REPORT.exists() else "# Stress figures\n\n"
        if "<!-- load:start -->" in text:
            text = re.sub(r"<!-- load:start -->.*?<!-- load:end -->", lambda _: block, text, flags=re.S)
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
        REPORT.write_text(text)
    return 0 if not errors and total else 1


if __name__ == "__main__":
    sys.exit(main())
