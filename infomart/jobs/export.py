"""Job_ExportGIM: incremental CSV export of the facts and dimensions.

What is new: the facts and dimensions changed by Job_TransformGIM since the
last export, i.e. whose UPDATE_AUDIT_KEY is above the export mark (the
highest transformation audit key exported; transformation chunks commit in
audit-key order, one Job_TransformGIM at a time). A row changed again later
is exported again in a later folder; merging the folders by primary key, in
folder order, gives the Info Mart.

1. Plan (CTL_EXPORT_RUN): the audit range (mark, newest transformation audit
   key], cut into windows of `chunk-size-seconds` of the facts' START_TS
   (from `start-date` when set), plus one chunk for the dimensions. An
   unfinished plan (stopped, failed, killed) is resumed first, chunk for
   chunk identical, so a re-run produces the same folders.
2. Chunks are written by `thread-pool-size` threads, each with its own
   database connection (closed at the end): one folder per chunk,
   `export_<audit key>_<window start, GMT YYYY_MM_DD_HH_MI_SS>` (or
   `..._dimensions`), holding one `<table>.csv` per table (header, RFC 4180,
   NULL and '' both empty, `output-files-encoding`) and `manifest.json` (row
   counts, bytes and SHA-1 of every file). The folder is written under a
   hidden temporary name, fsynced, and renamed into place: it appears whole
   or not at all. A failing chunk is retried `max-retries` times,
   `retry-delay-seconds` apart.
3. The main thread records chunks in plan order (CTL_EXPORT_HISTORY, and the
   plan's count of chunks done) only after their folders are in place; the
   plan completes, and the mark advances, after the last one.
4. Folders older than `days-to-keep-output-files` are deleted.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from django.db import connection, transaction

from gimmanager import clock
from gimmanager.config.services import output_directory
from gimmanager.jobs.context import JobContext, StopRequested
from infomart import sql
from infomart.models import CtlExportHistory, CtlExportRun

# table -> primary key (rows are written in key order, so a chunk's files are reproducible)
FACTS = {"interaction_fact": "interaction_id", "interaction_resource_fact": "interaction_resource_id",
         "mediation_segment_fact": "mediation_segment_id", "sm_res_state_fact": "sm_res_state_fact_key",
         "sm_res_session_fact": "sm_res_session_fact_key"}
AUDITED_DIMENSIONS = {"resource_": "resource_key", "media_type": "media_type_key", "group_": "group_key"}
STATIC_DIMENSIONS = {"interaction_type": "interaction_type_key", "resource_state": "resource_state_key"}
DIMENSIONS = -1  # the window value of the dimensions chunk in a plan
PREFIX = "export_"


@dataclass(frozen=True)
class Settings:
    out: Path
    size: int
    encoding: str
    retries: int
    delay: int
    threads: int
    views: bool
    start_ts: int | None


def settings_of(ctx: JobContext) -> Settings:
    start = ctx.option("gim-export", "start-date")
    return Settings(
        out=output_directory(ctx.values), size=ctx.option("gim-export", "chunk-size-seconds"),
        encoding=ctx.option("gim-export", "output-files-encoding"), retries=ctx.option("gim-export", "max-retries"),
        delay=ctx.option("gim-export", "retry-delay-seconds"), threads=ctx.option("gim-export", "thread-pool-size"),
        views=ctx.option("gim-export", "use-export-views"),
        start_ts=None if start is None else int(start.replace(tzinfo=start.tzinfo or UTC).timestamp()))


def folder_name(audit_hi: int, window: int) -> str:
    if window == DIMENSIONS:
        return f"{PREFIX}{audit_hi:012d}_dimensions"
    return f"{PREFIX}{audit_hi:012d}_{datetime.fromtimestamp(window, UTC):%Y_%m_%d_%H_%M_%S}"


# --- the plan ---------------------------------------------------------------------


def plan(ctx: JobContext, s: Settings) -> CtlExportRun | None:
    """The unfinished plan, or a new one for what changed since the mark (None: nothing new)."""
    pending = CtlExportRun.objects.filter(complete=False).order_by("-id").first()
    if pending is not None:
        ctx.log(f"resuming the export of audit keys {pending.audit_lo + 1}..{pending.audit_hi}: "
                f"{pending.done_count} of {len(pending.windows)} chunks were written")
        return pending
    lo = int(sql.scalar("SELECT MAX(audit_hi) FROM ctl_export_run WHERE complete = %s", [True]) or 0)
    hi = int(sql.scalar("SELECT MAX(audit_key) FROM ctl_audit_log WHERE job_name = %s",
                        ["Job_TransformGIM"]) or 0)
    if hi <= lo:
        return None
    since = "" if s.start_ts is None else " AND start_ts >= %(start)s"
    params = {"lo": lo, "hi": hi, "size": s.size, "start": s.start_ts}
    union = " UNION ".join(
        f"SELECT DISTINCT start_ts / %(size)s * %(size)s AS w FROM {t} "
        f"WHERE update_audit_key > %(lo)s AND update_audit_key <= %(hi)s{since}" for t in FACTS)
    windows = [int(w) for (w,) in sql.rows(f"SELECT w FROM ({union}) x ORDER BY w", params)]
    dims = lo == 0 or any(sql.scalar(f"SELECT 1 FROM {t} WHERE update_audit_key > %s AND update_audit_key <= %s "
                                     "LIMIT 1", [lo, hi]) for t in AUDITED_DIMENSIONS)
    chunks = ([DIMENSIONS] if dims else []) + windows
    if not chunks:
        return None
    return CtlExportRun.objects.create(job_id=str(ctx.run_id), audit_lo=lo, audit_hi=hi, chunk_size_seconds=s.size,
                                       windows=chunks, created_ts=sql.epoch(clock.now()))


# --- one chunk ----------------------------------------------------------------------


def _columns(table: str) -> list[tuple[str, str]]:
    """(name, SELECT expression) of every column: '' as NULL, booleans as 0/1."""
    out = []
    for f in _model(table)._meta.local_fields:
        name = f.column
        kind = f.get_internal_type()
        if kind == "BooleanField":
            out.append((name, f"CASE WHEN {name} THEN 1 ELSE 0 END"))
        elif kind == "CharField":
            out.append((name, f"NULLIF({name}, '')"))
        else:
            out.append((name, name))
    return out


def _model(table: str) -> Any:
    from django.apps import apps

    return next(m for m in apps.get_app_config("infomart").get_models() if m._meta.db_table == table)


def _select(table: str, key: str, run: CtlExportRun, window: int, s: Settings) -> tuple[str, dict[str, Any]]:
    cols = _columns(table)
    source = f"export_{table}" if s.views else table
    select = ", ".join(f"{expr} AS {name}" for name, expr in cols)
    params: dict[str, Any] = {"lo": run.audit_lo, "hi": run.audit_hi}
    if table in STATIC_DIMENSIONS:
        return f"SELECT {select} FROM {source} ORDER BY {key}", params
    where = "update_audit_key > %(lo)s AND update_audit_key <= %(hi)s"
    if window != DIMENSIONS:
        # The key bounds let PostgreSQL read only the window's partitions (and index range);
        # the START_TS bounds make the window exact.
        where += (" AND start_date_time_key >= %(k0)s AND start_date_time_key < %(w1)s"
                  " AND start_ts >= %(w0)s AND start_ts < %(w1)s")
        params.update(w0=window, w1=window + run.chunk_size_seconds, k0=window // 900 * 900)
        if s.start_ts is not None:
            where += " AND start_ts >= %(start)s"
            params["start"] = s.start_ts
    return f"SELECT {select} FROM {source} WHERE {where} ORDER BY {key}", params


class _Sink:
    """A file being written: bytes in the output encoding, with SHA-1 and size."""

    def __init__(self, fh: BinaryIO, encoding: str):
        self.fh, self.sha1, self.size = fh, hashlib.sha1(), 0
        self.utf8 = codecs.lookup(encoding).name == "utf-8"
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.encoding = encoding

    def write_utf8(self, data: bytes) -> None:
        self.write_bytes(data if self.utf8 else self.decoder.decode(data).encode(self.encoding))

    def write_text(self, text: str) -> None:
        self.write_bytes(text.encode(self.encoding))

    def write_bytes(self, data: bytes) -> None:
        self.fh.write(data)
        self.sha1.update(data)
        self.size += len(data)


def _write_table(path: Path, table: str, query: str, params: dict[str, Any], encoding: str) -> dict[str, Any]:
    with path.open("wb") as fh:
        sink = _Sink(fh, encoding)
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                raw = cur.cursor
                sql_text = raw.mogrify(query, params)
                with raw.copy(f"COPY ({sql_text}) TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
                    for block in copy:
                        sink.write_utf8(bytes(block))
                rows = max(raw.rowcount, 0)
            else:
                cur.execute(query, params)
                buf = io.StringIO()
                writer = csv.writer(buf, lineterminator="\n")
                writer.writerow([c[0] for c in cur.description])
                rows = 0
                while batch := cur.fetchmany(5000):
                    writer.writerows(["" if v is None else v for v in r] for r in batch)
                    rows += len(batch)
                    sink.write_text(buf.getvalue())
                    buf.seek(0)
                    buf.truncate()
                sink.write_text(buf.getvalue())
        fh.flush()
        os.fsync(fh.fileno())
    return {"rows": rows, "bytes": sink.size, "sha1": sink.sha1.hexdigest()}


@dataclass
class ChunkResult:
    index: int
    window: int
    folder: str
    rows: int
    manifest_sha1: str


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Tests replace this to make a chunk fail (a full disk, a lost connection).
fault: Callable[[int], None] | None = None


def write_chunk(ctx: JobContext, run: CtlExportRun, index: int, s: Settings,
                abort: threading.Event | None = None) -> ChunkResult:
    """Write one chunk's folder, whole or not at all. Runs in a pool thread."""
    window = int(run.windows[index])
    name = folder_name(run.audit_hi, window)
    final = s.out / name
    tmp = s.out / f".{name}.tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        tables = ({**STATIC_DIMENSIONS, **AUDITED_DIMENSIONS} if window == DIMENSIONS else FACTS)
        if window == DIMENSIONS and run.audit_lo > 0:
            tables = dict(AUDITED_DIMENSIONS)  # the static ones went out with the first export
        files: dict[str, Any] = {}
        for table, key in tables.items():
            if ctx.stop_requested or (abort is not None and abort.is_set()):
                raise StopRequested(ctx.stop_reason or "the export stopped")
            if fault is not None:
                fault(index)
            query, params = _select(table, key, run, window, s)
            files[f"{table}.csv"] = _write_table(tmp / f"{table}.csv", table, query, params, s.encoding)
        manifest = {
            "folder": name, "job_id": str(ctx.run_id), "created": clock.now().isoformat(),
            "audit_key_from": run.audit_lo + 1, "audit_key_to": run.audit_hi, "encoding": s.encoding,
            "window_start": None if window == DIMENSIONS else datetime.fromtimestamp(window, UTC).isoformat(),
            "window_end": None if window == DIMENSIONS else
            datetime.fromtimestamp(window + run.chunk_size_seconds, UTC).isoformat(),
            "files": files,
        }
        text = json.dumps(manifest, indent=2, sort_keys=True).encode()
        with (tmp / "manifest.json").open("wb") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(tmp)
        if final.exists():
            # A run that died after the rename but before recording the chunk: replace its folder.
            trash = s.out / f".{name}.old-{os.getpid()}-{threading.get_ident()}"
            os.replace(final, trash)
            os.replace(tmp, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, final)
        _fsync_dir(s.out)
        return ChunkResult(index, window, name, sum(f["rows"] for f in files.values()),
                           hashlib.sha1(text).hexdigest())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        connection.close()  # this thread's connection


def write_chunk_with_retries(ctx: JobContext, run: CtlExportRun, index: int, s: Settings,
                             abort: threading.Event) -> ChunkResult:
    attempt = 0
    while True:
        try:
            return write_chunk(ctx, run, index, s, abort)
        except StopRequested:
            raise
        except Exception as exc:
            attempt += 1
            if attempt > s.retries:
                raise RuntimeError(f"chunk {folder_name(run.audit_hi, int(run.windows[index]))} failed "
                                   f"{attempt} times (max-retries {s.retries}): {exc}") from exc
            ctx.log(f"chunk {index + 1} failed ({type(exc).__name__}: {exc}); retry {attempt} of {s.retries} "
                    f"in {s.delay} s", level="WARNING")
            if ctx.wait(s.delay) or abort.is_set():
                raise StopRequested(ctx.stop_reason or "the export stopped") from None


# --- the run --------------------------------------------------------------------------


def _record(ctx: JobContext, run: CtlExportRun, r: ChunkResult) -> None:
    now_ts = sql.epoch(clock.now())
    with transaction.atomic():
        CtlExportHistory.objects.create(
            run=run, job_id=str(ctx.run_id), folder=r.folder, window_start=None if r.window == DIMENSIONS else r.window,
            window_end=None if r.window == DIMENSIONS else r.window + run.chunk_size_seconds, row_count=r.rows,
            manifest_sha1=r.manifest_sha1, created_ts=now_ts)
        run.done_count = r.index + 1
        if run.done_count == len(run.windows):
            run.complete, run.completed_ts = True, now_ts
        CtlExportRun.objects.filter(pk=run.pk).update(done_count=run.done_count, complete=run.complete,
                                                        completed_ts=run.completed_ts)


def export(ctx: JobContext, run: CtlExportRun, s: Settings) -> int:
    """Write the plan's remaining chunks with the thread pool; chunks written."""
    todo = list(range(run.done_count, len(run.windows)))
    total = len(run.windows)
    ctx.progress(run.done_count, total, "chunks exported")
    written = 0
    abort = threading.Event()  # tells the pool threads to give up when the run fails or stops
    with ThreadPoolExecutor(max_workers=s.threads, thread_name_prefix=f"export-{ctx.run_id}") as pool:
        futures: dict[int, Future[ChunkResult]] = {}
        nxt = 0
        try:
            for i in todo:
                # Keep the pool busy without queueing the whole plan at once.
                while nxt < len(todo) and len(futures) < 2 * s.threads:
                    futures[todo[nxt]] = pool.submit(write_chunk_with_retries, ctx, run, todo[nxt], s, abort)
                    nxt += 1
                result = futures.pop(i).result()  # a chunk that failed after its retries fails the job
                _record(ctx, run, result)  # in plan order: the mark never passes a missing chunk
                written += 1
                ctx.progress(run.done_count, total, "chunks exported")
                ctx.check_stop()
        except BaseException:
            abort.set()
            for f in futures.values():
                f.cancel()
            raise  # leaving the pool waits for the threads still writing; they drop their folders
    return written


def purge_old_files(ctx: JobContext, s: Settings) -> int:
    """Delete export folders older than days-to-keep-output-files, and leftovers of crashed runs."""
    if not s.out.exists():
        return 0
    cutoff = clock.now().timestamp() - ctx.option("gim-export", "days-to-keep-output-files") * 86400
    removed = 0
    for entry in s.out.iterdir():
        if entry.name.startswith(f".{PREFIX}") and (".tmp-" in entry.name or ".old-" in entry.name):
            shutil.rmtree(entry, ignore_errors=True)  # no other Job_ExportGIM runs: nobody writes these
        elif entry.name.startswith(PREFIX) and entry.is_dir():
            stamp = entry / "manifest.json"
            if (stamp.stat().st_mtime if stamp.exists() else entry.stat().st_mtime) < cutoff:
                shutil.rmtree(entry)
                removed += 1
    return removed


def ensure_export_views() -> None:
    """The export views: the tables' columns frozen as they are the first time they are made."""
    for table in {**FACTS, **AUDITED_DIMENSIONS, **STATIC_DIMENSIONS}:
        if not sql.table_exists(f"export_{table}"):
            cols = ", ".join(f.column for f in _model(table)._meta.local_fields)
            sql.execute(f"CREATE VIEW export_{table} AS SELECT {cols} FROM {table}")


def run(ctx: JobContext) -> None:
    s = settings_of(ctx)
    s.out.mkdir(parents=True, exist_ok=True)
    removed = purge_old_files(ctx, s)
    if removed:
        ctx.log(f"deleted {removed} export folders older than days-to-keep-output-files")
    if s.views:
        ensure_export_views()
    ctx.check_stop()
    current = plan(ctx, s)
    if current is None:
        ctx.log("nothing new to export since the last export")
        ctx.progress(0, 0)
        return
    ctx.log(f"exporting audit keys {current.audit_lo + 1}..{current.audit_hi}: {len(current.windows)} chunks of "
            f"{current.chunk_size_seconds} s into {s.out} with {s.threads} threads")
    n = export(ctx, current, s)
    ctx.log(f"export complete: {n} chunks written; export mark now audit key {current.audit_hi}")
