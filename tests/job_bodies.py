"""Job bodies whose timing the runner tests control, swapped in through
GIM_JOB_BODIES for one test module's worker. They do real database work in
a scratch table, so a test can see exactly what was committed."""

from __future__ import annotations

from django.db import connection, transaction

from gimmanager.jobs.context import JobContext

TABLE = "gim_test_rows"


def ensure_table() -> None:
    with connection.cursor() as cur:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (run_id bigint, n int, PRIMARY KEY (run_id, n))")


def one_transaction(ctx: JobContext) -> None:
    """Writes 2,000 rows in ONE transaction, checking for a stop between rows:
    a stop must leave none of them."""
    ensure_table()
    with transaction.atomic(), connection.cursor() as cur:
        for n in range(2000):
            ctx.check_stop()
            cur.execute(f"INSERT INTO {TABLE} VALUES (%s, %s)", [ctx.run_id, n])
            ctx.progress(n + 1, 2000)
            ctx.wait(0.005)  # paces the job so a test can act in the middle of it
    ctx.log("wrote 2000 rows")


def stuck_in_sql(ctx: JobContext) -> None:
    """Writes rows, then blocks in one long statement (as a job stuck in a slow
    query does), so it cannot honour a stop: only terminating the worker ends it."""
    ensure_table()
    with transaction.atomic(), connection.cursor() as cur:
        for n in range(50):
            cur.execute(f"INSERT INTO {TABLE} VALUES (%s, %s)", [ctx.run_id, n])
        ctx.progress(50, 100, "inserted, now in a long statement")
        cur.execute("SELECT pg_sleep(120)")
