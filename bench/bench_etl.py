"""Info Mart benchmarks: ETL throughput, incremental cycle cost, export vs COPY.

    .venv/bin/python bench/bench_etl.py                                   # modest sizes, a few minutes
    .venv/bin/python bench/bench_etl.py --interactions 1000000 --big 10000000   # the issue's sizes

Runs on PostgreSQL in a database of its own (`gim_bench` on the server of
DATABASE_URL, created and dropped; --keep keeps it). Every figure is a ratio
of two measurements taken side by side in the same run, on the same data:

1. ETL: Job_ExtractICON + Job_TransformGIM over N generated interactions
   (all IDB rows), against the plain lower bound of copying the same IDB rows
   with one INSERT ... SELECT per table into an unindexed copy (and, for
   context, into a copy with the staging tables' indexes). Also the floor of
   any incremental ETL into this schema: the IDB rows into staging carrying
   only an index on CALLID (the least that finds a call's earlier rows when a
   late update arrives), plus the produced facts into tables carrying the
   facts' own indexes.
2. Incremental: one ETL cycle plus aggregation of ~10,000 new interactions on
   top of a mart already holding --big interactions, against the same cycle on
   an empty mart. The big mart is the generated base block replicated back in
   time at the fact level (facts, partitions, then all aggregates computed by
   Job_AggregateGIM), as a mart whose IDB and staging hold only recent days.
3. Export: Job_ExportGIM of the facts against PostgreSQL's COPY (SELECT ...)
   TO of the same rows into files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

IDB_TABLES = ("gc_media_type", "gc_group", "gc_agent", "gc_endpoint", "g_ir", "g_call", "g_party",
              "g_party_history", "g_login_session", "g_agent_state_history")
CALL_TABLES = ("g_call", "g_party", "g_party_history", "g_agent_state_history")  # the tables with a CALLID
IPH = 600  # arrivals per hour of the generated traffic (its weekly average)


def admin(url: str, *statements: str) -> None:
    import psycopg

    u = urlparse(url)
    with psycopg.connect(host=u.hostname, port=u.port or 5432, user=u.username or "postgres",
                         password=u.password, dbname="postgres", autocommit=True) as conn:
        for s in statements:
            conn.execute(s)


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
        self.url = base._replace(path=f"/{args.db}").geturl()
        os.environ["DATABASE_URL"] = self.url
        os.environ["DJANGO_SETTINGS_MODULE"] = "gimmanager.settings"
        self.var = Path(tempfile.mkdtemp(prefix="gim-bench-"))
        os.environ.setdefault("GIM_VAR_DIR", str(self.var))
        self.results: dict[str, float] = {}
        self.fresh_db()
        import django

        django.setup()
        self.migrate()

    # --- database -----------------------------------------------------------------
    def fresh_db(self) -> None:
        try:
            from django.db import connection

            connection.close()
        except Exception:  # before django.setup()
            pass
        admin(self.url, f"DROP DATABASE IF EXISTS {self.args.db} WITH (FORCE)", f"CREATE DATABASE {self.args.db}")

    def migrate(self) -> None:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, skip_checks=True)

    def reset(self) -> None:
        self.fresh_db()
        self.migrate()

    # --- helpers ----------------------------------------------------------------
    def say(self, text: str) -> None:
        print(f"[{datetime.now():%H:%M:%S}] {text}", flush=True)

    def values(self, **more: str) -> dict[str, dict[str, str]]:
        from tests.infomart.helpers import values

        # Retention long enough for the big mart: Job_MaintainGIM must not purge it.
        return values(gim_etl__extract_data_chunk_size=str(self.args.chunk), schedule__timezone="America/New_York",
                      gim_etl__days_to_keep_gim_facts="3650", gim_etl__days_to_keep_cfg_facts="3650", **more)

    def run(self, job_name: str, vals: dict[str, dict[str, str]]) -> float:
        from gimmanager.catalog import Job
        from tests.infomart.helpers import run_job

        t = time.perf_counter()
        run_job(Job(job_name), vals)
        return time.perf_counter() - t

    def aggregate(self, vals: dict[str, dict[str, str]]) -> float:
        from tests.infomart.helpers import aggregate

        t = time.perf_counter()
        aggregate(vals)
        return time.perf_counter() - t

    def generate(self, *, end: datetime, days: float | None = None, resume: bool = False, seed: int = 1) -> float:
        from infomart import generator
        from zoneinfo import ZoneInfo

        t = time.perf_counter()
        state = generator.load_state()
        start = state.last_end_ts if resume else int((end - timedelta(days=days or 0)).timestamp())
        out = generator.generate(start=start, end=int(end.timestamp()),
                                 layout=generator.Layout(agents=self.args.agents, queues=8), seed=seed,
                                 interactions_per_hour=IPH, tz=ZoneInfo("America/New_York"))
        self.say(f"  generated {out.interactions} interactions ({sum(out.rows.values())} IDB rows) "
                 f"in {time.perf_counter() - t:.1f} s")
        return time.perf_counter() - t

    def settle(self) -> None:
        """VACUUM (ANALYZE) everything and wait for autovacuum to be idle, so that no
        background vacuum of the freshly loaded tables runs during a measurement."""
        from django.db import connection

        from infomart import sql

        t = time.perf_counter()
        sql.execute("VACUUM (ANALYZE)")
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            with connection.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND backend_type = 'autovacuum worker'")
                if not cur.fetchone()[0]:
                    break
            time.sleep(2)
        self.say(f"  settled (VACUUM ANALYZE, autovacuum idle) in {time.perf_counter() - t:.0f} s")

    def scalar(self, q: str, p: object = None) -> int:
        from infomart import sql

        return int(sql.scalar(q, p) or 0)

    # --- 1. ETL throughput ---------------------------------------------------------------
    def etl(self) -> None:
        n = self.args.interactions
        days = n / IPH / 24
        self.say(f"1. ETL throughput: {n} interactions ({days:.1f} days at {IPH}/h)")
        self.generate(end=datetime(2026, 6, 1, tzinfo=UTC), days=days)
        rows = sum(self.scalar(f"SELECT COUNT(*) FROM {t}") for t in IDB_TABLES)
        ixns = self.scalar("SELECT COUNT(*) FROM g_ir")
        from infomart import sql

        self.settle()
        vals = self.values()
        t_extract = self.run("Job_ExtractICON", vals)
        t_transform = self.run("Job_TransformGIM", vals)
        self.say(f"  extract {t_extract:.1f} s, transform {t_transform:.1f} s")
        # The lower bound: the same IDB rows copied with one INSERT ... SELECT per table.
        t_copy = self.copy_rows({t: t for t in IDB_TABLES}, "LIKE {src}")
        # For context, the same copy into tables with the staging tables' indexes.
        t_copy_idx = self.copy_rows({t: t for t in IDB_TABLES}, "LIKE gidb_{src} INCLUDING DEFAULTS INCLUDING INDEXES",
                                    columns=lambda t: [f.column for f in _model(t)._meta.local_fields])
        # The floor of any incremental ETL into this schema: staging that can at least
        # find a call's rows (an index on CALLID, nothing else), plus the facts the
        # transformation produced written into tables carrying the facts' own indexes
        # (primary key for late updates, start key for aggregation, audit key for export).
        t_look = self.copy_rows({t: t for t in IDB_TABLES}, "LIKE {src}",
                                index=lambda t: "callid" if t in CALL_TABLES else None)
        from infomart.sql import FACT_PK

        t_facts = self.copy_rows({t: t for t in FACT_PK}, "LIKE {src} INCLUDING DEFAULTS INCLUDING INDEXES")
        t_floor = t_look + t_facts
        etl = t_extract + t_transform
        self.results.update({
            "etl_interactions": ixns, "etl_idb_rows": rows, "etl_seconds": etl, "extract_seconds": t_extract,
            "transform_seconds": t_transform, "etl_rows_per_s": rows / etl, "etl_interactions_per_s": ixns / etl,
            "copy_seconds": t_copy, "copy_rows_per_s": rows / t_copy, "etl_vs_copy": etl / t_copy,
            "copy_indexed_seconds": t_copy_idx, "etl_vs_indexed_copy": etl / t_copy_idx,
            "floor_staging_seconds": t_look, "floor_facts_seconds": t_facts, "floor_seconds": t_floor,
            "floor_vs_copy": t_floor / t_copy, "etl_vs_floor": etl / t_floor,
        })
        self.say(f"  ETL {rows / etl:,.0f} IDB rows/s ({ixns / etl:,.0f} interactions/s); INSERT ... SELECT "
                 f"{rows / t_copy:,.0f} rows/s: ratio {etl / t_copy:.1f}x (vs a copy with the staging "
                 f"indexes: {etl / t_copy_idx:.1f}x)")
        self.say(f"  floor of the schema (staging with only a CALLID index {t_look:.1f} s + facts with their "
                 f"indexes {t_facts:.1f} s): {t_floor / t_copy:.1f}x the plain copy; ETL / floor {etl / t_floor:.1f}x")

    def copy_rows(self, tables: dict[str, str], like: str, *, columns: Callable[[str], list[str]] | None = None,
                  index: Callable[[str], str | None] | None = None) -> float:
        """Seconds to copy each source table into a new table made by `like`, with one
        INSERT ... SELECT each (after a checkpoint); the copies are dropped afterwards."""
        from infomart import sql

        for name, src in tables.items():
            sql.execute(f"CREATE TABLE bench_copy_{name} ({like.format(src=src)})")
            if index and index(src):
                sql.execute(f"CREATE INDEX ON bench_copy_{name} ({index(src)})")
        sql.execute("CHECKPOINT")
        spent = 0.0
        for name, src in tables.items():
            cols = columns(src) if columns else None
            # The staging tables carry two audit keys more than their source.
            statement = (f"INSERT INTO bench_copy_{name} ({', '.join(cols)}, create_audit_key, update_audit_key) "
                         f"SELECT {', '.join(cols)}, 1, 1 FROM {src}" if cols else
                         f"INSERT INTO bench_copy_{name} SELECT * FROM {src}")
            t0 = time.perf_counter()
            sql.execute(statement)
            spent += time.perf_counter() - t0
        for name in tables:
            sql.execute(f"DROP TABLE bench_copy_{name}")
        return spent

    # --- 3. export vs COPY ----------------------------------------------------------------
    def export(self) -> None:
        from django.db import connection

        from infomart.jobs.export import FACTS

        self.say("3. Export vs COPY")
        out = self.var / "export"
        vals = self.values(gim_export__output_directory=str(out), gim_export__chunk_size_seconds="86400",
                           gim_export__thread_pool_size=str(self.args.threads))
        t_export = self.run("Job_ExportGIM", vals)
        size = sum(f.stat().st_size for f in out.rglob("*.csv"))
        rows = sum(self.scalar(f"SELECT COUNT(*) FROM {t}") for t in FACTS)
        copy_dir = self.var / "copy"
        copy_dir.mkdir()
        t0 = time.perf_counter()
        with connection.cursor() as cur:
            for t in FACTS:
                with (copy_dir / f"{t}.csv").open("wb") as fh, \
                        cur.cursor.copy(f"COPY (SELECT * FROM {t}) TO STDOUT WITH (FORMAT csv, HEADER true)") as cp:
                    for block in cp:
                        fh.write(block)
                    fh.flush()
                    os.fsync(fh.fileno())
        t_copy = time.perf_counter() - t0
        self.results.update({"export_rows": rows, "export_bytes": size, "export_seconds": t_export,
                             "export_copy_seconds": t_copy, "export_vs_copy": t_export / t_copy,
                             "export_rows_per_s": rows / t_export})
        self.say(f"  Job_ExportGIM {rows:,} fact rows ({size / 1e6:.0f} MB) in {t_export:.1f} s, COPY TO files "
                 f"{t_copy:.1f} s: ratio {t_export / t_copy:.1f}x")
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(copy_dir, ignore_errors=True)

    # --- 2. incremental cycle --------------------------------------------------------------
    def cycle(self, vals: dict[str, dict[str, str]]) -> dict[str, float]:
        e = self.run("Job_ExtractICON", vals)
        t = self.run("Job_TransformGIM", vals)
        a = self.aggregate(vals)
        return {"extract": e, "transform": t, "aggregate": a, "total": e + t + a}

    def incremental(self) -> None:
        new_days = self.args.new / IPH / 24
        end = datetime(2026, 6, 3, 22, 0, tzinfo=UTC)  # a Wednesday, 18:00 in New York: a working day's traffic
        vals = self.values()
        self.say(f"2. Incremental cycle of ~{self.args.new} new interactions: empty mart vs {self.args.big:,}")
        # (a) the empty mart: calendar and aggregate tables ready, then the new traffic.
        self.reset()
        self.run("Job_MaintainGIM", vals)
        self.aggregate(vals)
        self.settle()
        self.generate(end=end, days=new_days, seed=2)
        empty = self.cycle(vals)
        new_empty = self.scalar("SELECT COUNT(*) FROM g_ir")
        # (b) the big mart.
        self.reset()
        block = min(self.args.big, 100_000)
        block_days = block / IPH / 24
        self.generate(end=end - timedelta(days=new_days), days=block_days)
        self.run("Job_MaintainGIM", vals)
        t = time.perf_counter()
        self.cycle(vals)
        copies = max(0, round(self.args.big / max(self.scalar("SELECT COUNT(*) FROM interaction_fact"), 1)) - 1)
        self.replicate(copies, span_days=7 * (int(block_days) // 7 + 1))
        from infomart import sql

        sql.execute("DELETE FROM ctl_agg_calendar")  # aggregate everything anew
        self.aggregate(vals)
        self.run("Job_MaintainGIM", vals)
        self.settle()
        big_facts = self.scalar("SELECT COUNT(*) FROM interaction_fact")
        self.say(f"  big mart: {big_facts:,} interactions, "
                 f"{self.scalar('SELECT COUNT(*) FROM sm_res_state_fact'):,} agent states, built in "
                 f"{time.perf_counter() - t:.0f} s")
        before = self.scalar("SELECT COUNT(*) FROM g_ir")
        self.generate(end=end, resume=True, seed=2)
        big = self.cycle(vals)
        new_big = self.scalar("SELECT COUNT(*) FROM g_ir") - before
        self.results.update({
            "incr_new_interactions_empty": new_empty, "incr_new_interactions_big": new_big,
            "incr_big_mart_interactions": big_facts,
            **{f"incr_empty_{k}": v for k, v in empty.items()}, **{f"incr_big_{k}": v for k, v in big.items()},
            "incr_ratio": (big["total"] / new_big) / (empty["total"] / new_empty),
        })
        self.say(f"  empty mart: {new_empty} new in {empty['total']:.1f} s "
                 f"(extract {empty['extract']:.1f}, transform {empty['transform']:.1f}, aggregate "
                 f"{empty['aggregate']:.1f}); big mart: {new_big} new in {big['total']:.1f} s (extract "
                 f"{big['extract']:.1f}, transform {big['transform']:.1f}, aggregate {big['aggregate']:.1f}); "
                 f"ratio per interaction {self.results['incr_ratio']:.2f}x")

    def replicate(self, copies: int, span_days: int) -> None:
        """Copy the loaded facts `copies` times back in time, span_days apart, with new ids."""
        from infomart import partitions, sql

        if copies <= 0:
            return
        shift = span_days * 86400
        t0 = time.perf_counter()
        lo = self.scalar("SELECT MIN(start_date_time_key) FROM sm_res_state_fact")
        hi = self.scalar("SELECT MAX(start_ts) FROM interaction_fact")
        partitions.ensure(lo - copies * shift, hi)
        from infomart.sql import FACT_PK

        # One id offset for every fact, so ids that refer to each other stay consistent.
        span = max(self.scalar(f"SELECT MAX({pk}) FROM {table}") for table, pk in FACT_PK.items()) + 1
        first = {t: self.scalar(f"SELECT MIN(start_date_time_key) FROM {t}") for t in FACT_PK}
        for table, pk in FACT_PK.items():
            cols = [f.column for f in _model(table)._meta.local_fields]
            base = span
            for k in range(1, copies + 1):
                exprs = []
                for c in cols:
                    if c in (pk, "interaction_id", "target_irf_id", "mediation_segment_id", "interaction_resource_id"):
                        exprs.append(f"{c} + {k * span}")
                    elif c.endswith("_ts") or c.endswith("date_time_key"):
                        exprs.append(f"{c} - {k * shift}")
                    elif c in ("media_server_ixn_guid", "media_server_root_ixn_guid"):
                        exprs.append(f"{c} || '-{k}'")
                    else:
                        exprs.append(c)
                # Read the original block only (its partitions), not the copies made so far.
                sql.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(exprs)} FROM {table} "
                            f"WHERE start_date_time_key >= %s AND {pk} < %s", [first[table], base])
        sql.execute("ANALYZE")
        self.say(f"  replicated the facts {copies} times in {time.perf_counter() - t0:.0f} s")

    # --- report --------------------------------------------------------------------------------
    def report(self) -> None:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("SHOW server_version")
            pg = cur.fetchone()[0]
        machine = f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, PostgreSQL {pg}"
        from _db import summary

        r = self.results
        if "etl_vs_copy" in r:
            summary(f"ETL (extract + transform) of {r['etl_interactions']:,} interactions "
                    f"({r['etl_idb_rows']:,} IDB rows) vs one INSERT ... SELECT of the same rows",
                    f"{r['etl_rows_per_s']:,.0f} vs {r['copy_rows_per_s']:,.0f} rows/s: ratio {r['etl_vs_copy']:.1f}x "
                    f"(vs a copy into the indexed staging tables: {r['etl_vs_indexed_copy']:.1f}x)", "<= 3x")
            summary("Floor of the schema (the IDB rows into staging carrying only a CALLID index, plus the facts "
                    "into tables with the facts' indexes) vs the same plain copy",
                    f"{r['floor_seconds']:.1f} vs {r['copy_seconds']:.1f} s: ratio {r['floor_vs_copy']:.1f}x; "
                    f"ETL / floor {r['etl_vs_floor']:.1f}x")
        if "export_vs_copy" in r:
            summary(f"Job_ExportGIM of {r['export_rows']:,} fact rows vs COPY ... TO",
                    f"{r['export_seconds']:.1f} vs {r['export_copy_seconds']:.1f} s: ratio {r['export_vs_copy']:.1f}x")
        if "incr_ratio" in r:
            summary(f"ETL cycle + aggregation of {r['incr_new_interactions_big']:,} new interactions on "
                    f"{r['incr_big_mart_interactions']:,} vs on an empty mart (per interaction)",
                    f"{r['incr_big_total']:.1f} vs {r['incr_empty_total']:.1f} s: ratio {r['incr_ratio']:.2f}x",
                    "<= 1.5x")
        print("\n== results ==")
        print(f"machine: {machine}")
        print(json.dumps(self.results, indent=2, default=lambda v: round(v, 3)))
        if self.args.json:
            Path(self.args.json).write_text(json.dumps({"machine": machine, "args": vars(self.args),
                                                        "results": self.results}, indent=2))

    def close(self) -> None:
        from django.db import connection

        connection.close()
        if not self.args.keep:
            admin(self.url, f"DROP DATABASE IF EXISTS {self.args.db} WITH (FORCE)")
        shutil.rmtree(self.var, ignore_errors=True)


def _model(table: str):  # type: ignore[no-untyped-def]
    from django.apps import apps

    return next(m for m in apps.get_app_config("infomart").get_models() if m._meta.db_table == table)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--interactions", type=int, default=200_000, help="interactions for the ETL benchmark")
    p.add_argument("--big", type=int, default=1_000_000, help="interactions already in the big mart")
    p.add_argument("--new", type=int, default=10_000, help="new interactions of the incremental cycle")
    p.add_argument("--agents", type=int, default=50)
    p.add_argument("--chunk", type=int, default=5000, help="extract-data-chunk-size")
    p.add_argument("--threads", type=int, default=4, help="thread-pool-size of the export")
    p.add_argument("--db", default="gim_bench")
    p.add_argument("--only", choices=["etl", "incremental", "export"], action="append")
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = p.parse_args()
    only = set(args.only or ["etl", "export", "incremental"])
    b = Bench(args)
    try:
        if "etl" in only or "export" in only:
            b.etl()
        if "export" in only:
            b.export()
        if "incremental" in only:
            b.incremental()
        b.report()
    finally:
        b.close()


if __name__ == "__main__":
    main()
