"""One scheduler tick with 10 rows and with 1,000,000 rows of job history.

The tick reads a few indexed rows (running runs, the latest run per job), so
its cost must not grow with the history: aim at a ratio of 1.1 or less.

    python bench/bench_tick.py [--rows 1000000] [--ticks 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from _db import machine, summary, use_database


def fill_history(rows: int) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("TRUNCATE jobs_jobrun CASCADE")
        # Finished runs of every job, one a minute going back in time (set-based).
        cur.execute("""
            INSERT INTO jobs_jobrun (job, status, by, requested_by, params, note, requested_at, started_at,
                                     ended_at, progress_done, progress_text, celery_task_id, worker, end_reason,
                                     stop_requested_by)
            SELECT (ARRAY['Job_ExtractICON','Job_TransformGIM','Job_AggregateGIM','Job_MaintainGIM',
                          'Job_UpdateStats','Job_ExportGIM'])[1 + g %% 6],
                   (ARRAY['COMPLETE','COMPLETE','COMPLETE','FAILED','STOPPED'])[1 + g %% 5],
                   'scheduler', 'scheduler', '', '', t, t, t + interval '30 seconds', 0, '', '', '', '', ''
            FROM generate_series(1, %s) AS g,
                 LATERAL (SELECT %s::timestamptz - g * interval '1 minute' AS t) x
        """, [rows, datetime(2026, 5, 1, 6, 0, tzinfo=UTC)])
        cur.execute("ANALYZE jobs_jobrun")


def time_ticks(ticks: int) -> list[float]:
    from gimmanager.celery import app
    from gimmanager.clock import FrozenClock
    from gimmanager.jobs import services
    from scheduler.beat import GimScheduler

    services._enqueue_on_commit = lambda run: None  # measure the tick, not the broker
    t0 = datetime(2026, 5, 1, 6, 0, 30, tzinfo=UTC)
    sched = GimScheduler(app=app, clock=FrozenClock(t0), holder="bench")
    times = []
    for k in range(ticks):
        now = t0 + timedelta(seconds=k)
        start = time.perf_counter()
        sched.run_once(now)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--ticks", type=int, default=200)
    args = parser.parse_args()
    use_database("gim_bench_tick")
    from gimmanager.config.services import Changer, update_options

    # A live schedule with nothing due in the measured seconds except waits.
    update_options({"schedule": {"run-scheduler": "true", "run-update-stats": "true"}},
                   by=Changer(label="bench", via="bench"))
    results = {}
    for rows in (10, args.rows):
        fill_history(rows)
        times = time_ticks(args.ticks)
        results[rows] = (statistics.median(times), sorted(times)[int(0.95 * len(times))])
    small, big = results[10], results[args.rows]
    print(f"machine: {machine()}")
    print(f"scheduler tick, median / p95 over {args.ticks} ticks (PostgreSQL):")
    for rows, (med, p95) in results.items():
        print(f"  {rows:>9,} history rows: {med * 1000:7.2f} ms / {p95 * 1000:7.2f} ms")
    print(f"  ratio (big/small, medians): {big[0] / small[0]:.2f}  (aim <= 1.1)")
    summary(f"scheduler tick, {args.rows:,} vs 10 history rows",
            f"{big[0] * 1000:.1f} vs {small[0] * 1000:.1f} ms median: ratio {big[0] / small[0]:.2f}", "<= 1.1")


if __name__ == "__main__":
    main()
