"""Job_MaintainGIM: calendars, partitions and purge by the days-to-keep-* options.

Steps, each made of short transactions with a stop check between them, so a
stop (the scheduler stops maintenance when an ETL cycle is due) loses nothing
and the next run simply continues:
1. calendars: when DATE_TIME (date-time-tz) or DATE_TIME_AGG ([schedule]
   timezone) reaches fewer than date-time-min-days-ahead days ahead, fill it
   to date-time-max-days-ahead days ahead, a month per transaction;
2. partitions (PostgreSQL): create the daily fact partitions up to
   partitioning-ahead-range days ahead; drop every partition whose whole day
   is older than days-to-keep-gim-facts (no row-by-row delete);
3. facts: delete what is left older than days-to-keep-gim-facts (START_TS
   before the cutoff: the partition that straddles it, the unpartitioned
   session fact, every fact on SQLite), a day per transaction;
4. aggregates: delete AGT rows whose whole interval is older than
   days-to-keep-gim-facts;
5. GIDB staging: delete transformed rows (GSYS_USEQ at or below the
   transformation mark) whose last change is older than
   days-to-keep-gidb-facts; staged deleted configuration objects after
   days-to-keep-cfg-facts;
6. control tables and job history: rows older than
   days-to-keep-discards-and-job-history, keeping the newest mark of every
   table and the export mark.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.db import transaction

from gimmanager import clock
from gimmanager.catalog import TERMINAL_STATUSES
from gimmanager.jobs.context import JobContext
from gimmanager.jobs.models import JobRun
from infomart import calendar, control, hierarchies, partitions, sql
from infomart.hierarchies import LEVEL_KEY, LEVELS
from infomart.models import PARTITIONED_FACTS

DAY = 86400
CALENDAR_STEP_DAYS = 31
FACTS = PARTITIONED_FACTS + ("sm_res_session_fact",)
EVENT_STAGING = ("gidb_g_ir", "gidb_g_call", "gidb_g_party", "gidb_g_party_history", "gidb_g_login_session",
                 "gidb_g_agent_state_history")
CONFIG_STAGING = ("gidb_gc_group", "gidb_gc_agent", "gidb_gc_endpoint")  # with a state column (2 = deleted)
BATCH = 50_000


class Maintenance:
    def __init__(self, ctx: JobContext):
        self.ctx = ctx
        self.now = clock.now()
        self.now_ts = sql.epoch(self.now)
        days = ctx.option
        self.facts_cutoff = self.now_ts - days("gim-etl", "days-to-keep-gim-facts") * DAY
        self.gidb_cutoff = self.now_ts - days("gim-etl", "days-to-keep-gidb-facts") * DAY
        self.cfg_cutoff = self.now_ts - days("gim-etl", "days-to-keep-cfg-facts") * DAY
        self.history_days = days("gim-etl", "days-to-keep-discards-and-job-history")
        self.history_cutoff = self.now_ts - self.history_days * DAY
        self.counts: dict[str, int] = {}

    def count(self, what: str, n: int) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    # 1 --------------------------------------------------------------------------
    def calendars(self) -> None:
        ahead_max = self.ctx.option("date-time", "date-time-max-days-ahead")
        ahead_min = self.ctx.option("date-time", "date-time-min-days-ahead")
        for table, tz in (("date_time", self.ctx.option("date-time", "date-time-tz").key),
                          ("date_time_agg", self.ctx.option("schedule", "timezone").key)):
            first, last, zone = calendar.bounds(table)
            left = calendar.days_ahead(table, self.now_ts)
            if zone is not None and zone != tz:
                left = -1.0  # another zone: rebuilt by ensure(), then topped up
            if left >= ahead_min:
                continue
            target = self.now_ts + ahead_max * DAY
            cur = last + 900 if last is not None and zone == tz else self.now_ts
            if zone is not None and zone != tz:
                calendar.ensure(table, tz, first, last)  # rebuild in the new zone, same range
            added = 0
            while cur <= target:
                self.ctx.check_stop()
                step_end = min(target, cur + CALENDAR_STEP_DAYS * DAY)
                added += calendar.ensure(table, tz, cur, step_end)
                cur = step_end + 1
            self.count(f"{table} rows added", added)
            self.ctx.log(f"{table}: {left:.0f} days were left (< date-time-min-days-ahead {ahead_min}); "
                         f"filled to {ahead_max} days ahead in {tz} ({added} rows)")

    # 2 --------------------------------------------------------------------------
    def partitions(self) -> None:
        if not partitions.enabled():
            return
        ahead = self.ctx.option("gim-etl", "partitioning-ahead-range")
        created = partitions.ensure(sql.interval_key(self.now_ts), self.now_ts + ahead * DAY)
        self.count("partitions created", len(created))
        if created:
            self.ctx.log(f"created {len(created)} partitions up to {ahead} days ahead "
                         f"(partitioning-ahead-range)")
        dropped = []
        for table in PARTITIONED_FACTS:
            for _start, name in partitions.expired(table, self.facts_cutoff):
                self.ctx.check_stop()
                with transaction.atomic():
                    rows = sql.scalar(f"SELECT COUNT(*) FROM {name}")
                    partitions.drop(name)
                self.count(f"{table} rows purged", int(rows))
                dropped.append(name)
        self.count("partitions dropped", len(dropped))
        if dropped:
            self.ctx.log(f"dropped {len(dropped)} expired partitions (days-to-keep-gim-facts): "
                         f"{', '.join(dropped[:4])}{' ...' if len(dropped) > 4 else ''}")

    # 3 --------------------------------------------------------------------------
    def facts(self) -> None:
        for table in FACTS:
            first = sql.scalar(f"SELECT MIN(start_date_time_key) FROM {table}")
            if first is None or first >= self.facts_cutoff:
                continue
            day = int(first) // DAY * DAY
            while day < self.facts_cutoff:
                self.ctx.check_stop()
                with transaction.atomic():
                    n = sql.execute(f"DELETE FROM {table} WHERE start_date_time_key >= %s AND "
                                    "start_date_time_key < %s AND start_ts < %s",
                                    [day, day + DAY, self.facts_cutoff])
                self.count(f"{table} rows purged", n)
                day += DAY

    # 4 --------------------------------------------------------------------------
    def aggregates(self) -> None:
        row_key = sql.interval_key(self.facts_cutoff)
        cal = sql.rows(f"SELECT {', '.join(LEVEL_KEY[lv] for lv in LEVELS)} FROM {hierarchies.CALENDAR} "
                       "WHERE date_time_key = %s", [row_key])
        # An interval is wholly older than the cutoff when it started before the
        # start of the interval that contains the cutoff.
        starts = dict(zip(LEVELS, cal[0], strict=True)) if cal else {"SUBHOUR": row_key}
        for h in hierarchies.HIERARCHIES:
            for level in LEVELS:
                if level not in starts or not sql.table_exists(h.table_name(level)):
                    continue
                self.ctx.check_stop()
                with transaction.atomic():
                    n = sql.execute(f"DELETE FROM {h.table_name(level)} WHERE date_time_key < %s",
                                    [starts[level]])
                self.count("aggregate rows purged", n)

    # 5 --------------------------------------------------------------------------
    def staging(self) -> None:
        for table in EVENT_STAGING:
            self._batched(table, "gsys_ts < %s", [self.gidb_cutoff], "staged rows purged")
        for table in CONFIG_STAGING:
            self._batched(table, "state = 2 AND gsys_ts < %s", [self.cfg_cutoff], "staged deleted config purged")

    def _batched(self, table: str, where: str, params: list[object], what: str) -> None:
        """Delete transformed rows matching `where`, a GSYS_USEQ range per transaction."""
        mark = control.transform_mark(table)
        lo = sql.scalar(f"SELECT MIN(gsys_useq) FROM {table}")
        if lo is None:
            return
        lo = int(lo) - 1
        while lo < mark:
            self.ctx.check_stop()
            hi = min(mark, lo + BATCH)
            with transaction.atomic():
                n = sql.execute(f"DELETE FROM {table} WHERE gsys_useq > %s AND gsys_useq <= %s AND {where}",
                                [lo, hi, *params])
            self.count(what, n)
            lo = hi

    # 6 --------------------------------------------------------------------------
    def control(self) -> None:
        cutoff = self.history_cutoff
        keep_latest = {
            "ctl_extract_history": ("SELECT MAX(id) FROM ctl_extract_history GROUP BY table_name"),
            "ctl_transform_history": ("SELECT MAX(id) FROM ctl_transform_history GROUP BY hwm_name"),
        }
        for table, latest in keep_latest.items():
            self.ctx.check_stop()
            with transaction.atomic():
                n = sql.execute(f"DELETE FROM {table} WHERE created_ts < %s AND id NOT IN ({latest})", [cutoff])
            self.count("control rows purged", n)
        self.ctx.check_stop()
        with transaction.atomic():
            n = sql.execute("DELETE FROM ctl_audit_log WHERE created_ts < %s", [cutoff])
            # Export plans: keep the newest complete one (the export mark) and any unfinished one.
            n += sql.execute(
                "DELETE FROM ctl_export_history WHERE created_ts < %s AND run_id NOT IN "
                "(SELECT id FROM ctl_export_run WHERE complete = %s OR id = (SELECT MAX(id) FROM ctl_export_run "
                "WHERE complete = %s))", [cutoff, False, True])
            n += sql.execute(
                "DELETE FROM ctl_export_run WHERE created_ts < %s AND complete = %s AND id <> "
                "(SELECT MAX(id) FROM ctl_export_run WHERE complete = %s)", [cutoff, True, True])
        self.count("control rows purged", n)
        old = JobRun.objects.filter(status__in=TERMINAL_STATUSES,
                                    requested_at__lt=self.now - timedelta(days=self.history_days))
        while True:
            self.ctx.check_stop()
            with transaction.atomic():
                ids = list(old.values_list("pk", flat=True)[:1000])
                if not ids:
                    break
                JobRun.objects.filter(pk__in=ids).delete()  # their log lines and requests go with them
            self.count("job runs purged", len(ids))


def run(ctx: JobContext) -> None:
    m = Maintenance(ctx)
    steps: list[tuple[str, Callable[[], None]]] = [
        ("calendars", m.calendars), ("partitions", m.partitions), ("facts", m.facts),
        ("aggregates", m.aggregates), ("staging", m.staging), ("control tables and job history", m.control),
    ]
    for i, (name, step) in enumerate(steps):
        ctx.check_stop()
        ctx.progress(i, len(steps), name)
        step()
    ctx.progress(len(steps), len(steps), "done")
    summary = ", ".join(f"{k}: {v}" for k, v in m.counts.items() if v)
    ctx.log(f"maintenance complete; {summary or 'nothing to purge or add'}")
