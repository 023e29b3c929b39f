"""Job_UpdateStats, minimal: refreshes planner statistics of the job tables."""

from __future__ import annotations

from django.db import connection

from gimmanager.jobs.context import JobContext
from gimmanager.jobs.models import JobLogEntry, JobRun


def run(ctx: JobContext) -> None:
    tables = [JobRun._meta.db_table, JobLogEntry._meta.db_table]
    with connection.cursor() as cur:
        for i, table in enumerate(tables, 1):
            ctx.check_stop()
            cur.execute(f"ANALYZE {connection.ops.quote_name(table)}")
            ctx.progress(i, len(tables))
    ctx.log(f"ANALYZE done on {', '.join(tables)}")
