"""How far the Info Mart is behind its source: the marks, for the console's ETL status.

`etl_status(now)` reads the CTL_ tables and the IDB: per source table its
extraction mark, how many IDB rows lie past it and the data time it reached;
per staging table its transformation mark and backlog; the pending
aggregation ranges; the export mark. Each figure is one small indexed query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from infomart import control, sql
from infomart.models import SOURCE_MODELS


@dataclass(frozen=True)
class TableMark:
    table: str
    mark: int  # GSYS_USEQ up to which the table is processed
    behind: int  # rows past the mark
    data_until: datetime | None  # latest GSYS_TS processed (extraction), None if unknown
    last_run_at: datetime | None  # when the mark last moved


@dataclass(frozen=True)
class EtlStatus:
    extraction: tuple[TableMark, ...]
    transformation: tuple[TableMark, ...]
    extraction_lag_seconds: float | None  # now minus the newest data time extracted
    pending_aggregation_ranges: int
    pending_aggregation_from: datetime | None
    pending_aggregation_to: datetime | None
    export_audit_key: int  # the export mark (0: nothing exported yet)
    export_at: datetime | None
    export_unfinished: str  # "12 of 40 chunks" when an export stopped half-way, else ""


def _latest(table: str, name_col: str, name: str) -> tuple[datetime | None, int | None]:
    row = sql.rows(f"SELECT {'extract_end_time' if table == 'ctl_extract_history' else 'transform_end_time'}, "
                   f"{'max_ts' if table == 'ctl_extract_history' else 'NULL'} FROM {table} WHERE {name_col} = %s "
                   "ORDER BY id DESC LIMIT 1", [name])
    return (row[0][0], row[0][1]) if row else (None, None)


def etl_status(now: datetime) -> EtlStatus:
    extraction, transformation = [], []
    newest: int | None = None
    for model in SOURCE_MODELS:
        t = model._meta.db_table
        mark = control.extract_mark(t)
        at, max_ts = _latest("ctl_extract_history", "table_name", t)
        if max_ts is not None:
            newest = max(newest or 0, int(max_ts))
        extraction.append(TableMark(t, mark, control.count_past(t, mark),
                                    sql.from_epoch(int(max_ts)) if max_ts is not None else None, at))
        g = f"gidb_{t}"
        tmark = control.transform_mark(g)
        tat, _ = _latest("ctl_transform_history", "hwm_name", g)
        transformation.append(TableMark(g, tmark, control.count_past(g, tmark), None, tat))
    n, lo, hi = sql.rows("SELECT COUNT(*), MIN(start_key), MAX(end_key) FROM ctl_pending_agg")[0]
    export = sql.rows("SELECT audit_hi, completed_ts FROM ctl_export_run WHERE complete = %s ORDER BY id DESC LIMIT 1",
                      [True])
    unfinished = sql.rows("SELECT done_count, windows FROM ctl_export_run WHERE complete = %s ORDER BY id DESC "
                          "LIMIT 1", [False])
    windows = unfinished[0][1] if unfinished else None
    if isinstance(windows, str):  # SQLite returns the JSON text
        import json

        windows = json.loads(windows)
    return EtlStatus(
        extraction=tuple(extraction), transformation=tuple(transformation),
        extraction_lag_seconds=None if newest is None else now.timestamp() - newest,
        pending_aggregation_ranges=int(n),
        pending_aggregation_from=sql.from_epoch(int(lo)) if lo is not None else None,
        pending_aggregation_to=sql.from_epoch(int(hi)) if hi is not None else None,
        export_audit_key=int(export[0][0]) if export else 0,
        export_at=sql.from_epoch(int(export[0][1])) if export and export[0][1] else None,
        export_unfinished=f"{unfinished[0][0]} of {len(windows)} chunks" if unfinished and windows else "",
    )
