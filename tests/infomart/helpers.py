"""Builders for the Info Mart tests: option values, job contexts, generated traffic, ETL runs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.db import connection

from gimmanager import clock
from gimmanager.catalog import Job, Status
from gimmanager.jobs.context import JobContext, StopRequested
from gimmanager.jobs.models import JobRun
from gimmanager.options import defaults
from infomart import hierarchies

NY = "America/New_York"
# Saturday 2026-03-07 12:00 UTC to Monday 2026-03-09 12:00 UTC: covers New York's
# spring-forward night (2026-03-08 02:00 EST -> 03:00 EDT).
END = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


def values(**options: str) -> dict[str, dict[str, str]]:
    """Option values: defaults, overridden by section__name=value (dashes as underscores)."""
    out = defaults()
    for key, value in options.items():
        section, name = key.split("__")
        out[section.replace("_", "-")][name.replace("_", "-")] = value
    return out


def make_run(job: Job, *, params: str = "") -> JobRun:
    now = clock.now()
    JobRun.objects.filter(job=job, status=Status.RUNNING).update(status=Status.COMPLETE, ended_at=now)
    return JobRun.objects.create(job=job, status=Status.RUNNING, by="manual", requested_by="test",
                                 requested_at=now, started_at=now, params=params)


def make_ctx(job: Job, vals: dict[str, dict[str, str]] | None = None, *, params: str = "") -> JobContext:
    run = make_run(job, params=params)
    return JobContext(run_id=run.pk, job=job, params=params, values=vals or values(), started_at=run.started_at)


class StopAfter(JobContext):
    """A context whose check_stop asks to stop (or raises `error`) at its n-th call."""

    def __init__(self, *args: Any, n: int, error: Exception | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.n, self.error, self.calls = n, error, 0

    def check_stop(self) -> None:
        self.calls += 1
        if self.calls >= self.n:
            if self.error is not None:
                raise self.error
            raise StopRequested("test stop")


def disturbed_ctx(job: Job, vals: dict[str, dict[str, str]], *, n: int,
                  error: Exception | None = None) -> StopAfter:
    run = make_run(job)
    return StopAfter(run_id=run.pk, job=job, params="", values=vals, started_at=run.started_at, n=n, error=error)


def generate(days: float = 2, iph: int = 150, agents: int = 12, queues: int = 5, end: datetime = END,
             tz: str = NY, seed: int = 1, resume: bool = False) -> str:
    out = StringIO()
    args = ["--interactions-per-hour", str(iph), "--agents", str(agents), "--queues", str(queues), "--seed",
            str(seed), "--end", end.isoformat(), "--tz", tz]
    args += ["--resume"] if resume else ["--days", str(days)]
    call_command("idb_generate", *args, stdout=out)
    return out.getvalue()


def run_job(job: Job, vals: dict[str, dict[str, str]], body: Callable[[JobContext], None] | None = None) -> JobContext:
    from django.utils.module_loading import import_string

    from gimmanager.jobs.bodies import DEFAULT_BODIES

    ctx = make_ctx(job, vals)
    try:
        (body or import_string(DEFAULT_BODIES[job]))(ctx)
    finally:
        finish(ctx)
    return ctx


def finish(ctx: JobContext) -> None:
    """End the run row as the runner would, so the job can be requested again (one RUNNING per job)."""
    JobRun.objects.filter(pk=ctx.run_id, status=Status.RUNNING).update(status=Status.COMPLETE, ended_at=clock.now())


def aggregate(vals: dict[str, dict[str, str]]) -> JobContext:
    """Job_AggregateGIM's start and its loop until nothing is pending (without the window check)."""
    from infomart.jobs import aggregate as agg

    ctx = make_ctx(Job.AGGREGATE, vals)
    agg.prepare(ctx)
    while agg.run_once(ctx):
        pass
    finish(ctx)
    return ctx


def etl(vals: dict[str, dict[str, str]]) -> None:
    run_job(Job.EXTRACT, vals)
    run_job(Job.TRANSFORM, vals)


MART_TABLES = ("interaction_fact", "interaction_resource_fact", "mediation_segment_fact", "sm_res_state_fact",
               "sm_res_session_fact", "resource_", "media_type", "group_", "gidb_g_ir", "gidb_g_call", "gidb_g_party",
               "gidb_g_party_history", "gidb_g_login_session", "gidb_g_agent_state_history", "gidb_gc_agent",
               "gidb_gc_endpoint", "gidb_gc_group", "gidb_gc_media_type")
# Audit keys and their CTL rows differ between runs by construction; the data must not.
AUDIT_COLUMNS = {"create_audit_key", "update_audit_key"}


def table_digest(table: str, *, ignore: set[str] = AUDIT_COLUMNS) -> tuple[int, str]:
    """Row count and a checksum of a table's content (order-independent), ignoring some columns."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT * FROM {table} WHERE 1 = 0")
        cols = [c.name for c in cur.description if c.name not in ignore]
        cur.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {', '.join(cols)}")
        h = hashlib.sha1()
        n = 0
        for row in cur.fetchall():
            h.update(repr(row).encode())
            n += 1
    return n, h.hexdigest()


def mart_snapshot(tables: tuple[str, ...] = MART_TABLES, aggregates: bool = False) -> dict[str, tuple[int, str]]:
    names = list(tables) + (hierarchies.all_tables() if aggregates else [])
    return {t: table_digest(t) for t in names}


def reset_mart() -> None:
    """Empty the Info Mart (staging, dimensions, facts, marks, aggregates), keeping the IDB."""
    from infomart import partitions

    tables = [t for t in MART_TABLES] + ["ctl_extract_history", "ctl_transform_history", "ctl_audit_log",
                                         "ctl_pending_agg", "ctl_agg_calendar", "ctl_export_history",
                                         "ctl_export_run", "date_time", "date_time_agg"] + hierarchies.all_tables()
    with connection.cursor() as cur:
        for t in tables:
            cur.execute(f"DELETE FROM {t}")
        if partitions.enabled():
            for fact in ("interaction_fact", "interaction_resource_fact", "mediation_segment_fact",
                         "sm_res_state_fact"):
                for name in partitions.existing(fact).values():
                    cur.execute(f"DROP TABLE {name}")
