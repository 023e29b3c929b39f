"""Job_ExtractICON: copy what is new in every IDB table into GIDB staging.

For each source table, in models.SOURCE_MODELS order (configuration first):
1. read its mark: the newest CTL_EXTRACT_HISTORY.MAX_USEQ of the table;
2. take the next `extract-data-chunk-size` rows past the mark in GSYS_USEQ
   order and merge them into GIDB_<table>: rows whose id is above every
   staged id with a plain INSERT ... SELECT, the others with INSERT ...
   SELECT ... ON CONFLICT (id) DO UPDATE (an updated IDB row replaces its
   staged version; an older version never overwrites a newer one);
3. in the SAME transaction, write the chunk's CTL_AUDIT_LOG row and a
   CTL_EXTRACT_HISTORY row holding the new mark;
4. check for a stop between chunks, report progress, repeat.

A stop, an error or a killed worker therefore loses at most the open chunk,
which rolls back with its mark; the next run starts from the last committed
mark and, because staging merges on the IDB id, a chunk extracted twice would
still be staged once.

The IDB is read in the same database (as Genesys does with database links);
extraction order is GSYS_USEQ, which the IDB writer assigns in commit order
(the generator holds its counter row locked until commit).
"""

from __future__ import annotations

from django.db import transaction

from gimmanager import clock
from gimmanager.jobs.context import JobContext
from infomart import control, sql
from infomart.models import SOURCE_MODELS, CtlExtractHistory


def _columns(model: type) -> list[str]:
    return [f.column for f in model._meta.local_fields]  # type: ignore[attr-defined]


def merge_sql(table: str, columns: list[str]) -> tuple[str, str]:
    """The chunk's two statements: INSERT of the rows whose id is past every staged id
    (new for certain, so no conflict check: ON CONFLICT's speculative insertion was measured
    at 1.25-1.6x a plain insert), then the merge of the rest (updates, and ids first seen
    below the staged maximum)."""
    cols = ", ".join(columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
    select = (f"INSERT INTO gidb_{table} ({cols}, create_audit_key, update_audit_key) "
              f"SELECT {cols}, %(audit)s, %(audit)s FROM {table} WHERE gsys_useq > %(lo)s AND gsys_useq <= %(hi)s ")
    return (select + "AND id > %(staged)s",
            select + "AND id <= %(staged)s "
            f"ON CONFLICT (id) DO UPDATE SET {updates}, update_audit_key = excluded.update_audit_key "
            f"WHERE excluded.gsys_useq > gidb_{table}.gsys_useq")


def run(ctx: JobContext) -> None:
    size = ctx.option("gim-etl", "extract-data-chunk-size")
    tables = [(m._meta.db_table, _columns(m)) for m in SOURCE_MODELS]
    marks = {t: control.extract_mark(t) for t, _ in tables}
    backlog = {t: control.count_past(t, marks[t]) for t, _ in tables}
    total = sum(backlog.values())
    ctx.log(f"extracting {total} new or changed IDB rows from {len(tables)} tables, "
            f"{size} rows per chunk" if total else "the IDB has nothing new since the last extraction")
    done = chunks = 0
    ctx.progress(0, total, "rows extracted")
    for table, columns in tables:
        new_rows, changed_rows = merge_sql(table, columns)
        extracted = 0
        while True:
            ctx.check_stop()  # safe point: every earlier chunk is committed with its mark
            started = clock.now()
            with transaction.atomic():
                sql.etl_transaction()
                lo = control.extract_mark(table)
                window = control.chunk_window(table, lo, size)
                if window is None:
                    break
                hi, max_ts = window
                audit = control.new_audit(ctx, max_ts=max_ts, now=started)
                params = {"audit": audit, "lo": lo, "hi": hi,
                          "staged": sql.scalar(f"SELECT COALESCE(MAX(id), -1) FROM gidb_{table}")}
                n = sql.execute(new_rows, params) + sql.execute(changed_rows, params)
                now = clock.now()
                CtlExtractHistory.objects.create(
                    table_name=table, row_count=n, max_useq=hi, max_ts=max_ts, extract_start_time=started,
                    extract_end_time=now, job_id=str(ctx.run_id), job_name=ctx.job.value, create_audit_key=audit,
                    created_ts=sql.epoch(now))
                sql.execute("UPDATE ctl_audit_log SET row_count = %s WHERE audit_key = %s", [n, audit])
            extracted += n
            done += n
            chunks += 1
            ctx.progress(done, max(total, done), f"rows extracted ({table})")
        if extracted:
            ctx.log(f"{table}: {extracted} rows staged in gidb_{table}, mark now {control.extract_mark(table)}")
    ctx.progress(done, max(total, done), "rows extracted")
    ctx.log(f"extraction complete: {done} rows in {chunks} chunks")
