"""CTL_ tables: audit keys and high-water marks, read and written by the jobs.

A mark is never stored apart from the history: the newest CTL_EXTRACT_HISTORY
row of a source table holds its extraction mark (MAX_USEQ), the newest
CTL_TRANSFORM_HISTORY row of a staging table its transformation mark
(HWM_VALUE). A job writes the history row in the same transaction as the
data it describes, so data and mark commit or vanish together; the purge
keeps the newest row of each table.
"""

from __future__ import annotations

from datetime import datetime

from gimmanager import clock
from gimmanager.jobs.context import JobContext
from infomart import sql
from infomart.models import CtlAuditLog


def new_audit(ctx: JobContext, *, row_count: int = 0, min_key: int | None = None, max_key: int | None = None,
              max_ts: int | None = None, now: datetime | None = None) -> int:
    """Insert a CTL_AUDIT_LOG row for the chunk being committed; its key."""
    now = now or clock.now()
    row = CtlAuditLog.objects.create(
        job_id=str(ctx.run_id), job_name=ctx.job.value, created=now, created_ts=sql.epoch(now),
        min_start_date_time_key=min_key, max_start_date_time_key=max_key, max_chunk_ts=max_ts,
        row_count=row_count)
    return int(row.audit_key)


def extract_mark(table: str) -> int:
    return int(sql.scalar("SELECT MAX(max_useq) FROM ctl_extract_history WHERE table_name = %s", [table]) or 0)


def transform_mark(table: str) -> int:
    return int(sql.scalar("SELECT MAX(hwm_value) FROM ctl_transform_history WHERE hwm_name = %s", [table]) or 0)


def chunk_window(table: str, after: int, size: int) -> tuple[int, int] | None:
    """(GSYS_USEQ, newest GSYS_TS) of the next `size` rows of `table` past `after`, None if there are none."""
    hi, max_ts = sql.rows(
        f"SELECT MAX(gsys_useq), MAX(gsys_ts) FROM (SELECT gsys_useq, gsys_ts FROM {table} WHERE gsys_useq > %s "
        "ORDER BY gsys_useq LIMIT %s) x", [after, size])[0]
    return None if hi is None else (int(hi), max_ts)


def chunk_upper(table: str, after: int, size: int) -> int | None:
    """GSYS_USEQ of the size-th row of `table` past `after` (or of its last), None if there is none."""
    window = chunk_window(table, after, size)
    return None if window is None else window[0]


def count_past(table: str, after: int) -> int:
    return int(sql.scalar(f"SELECT COUNT(*) FROM {table} WHERE gsys_useq > %s", [after]) or 0)
