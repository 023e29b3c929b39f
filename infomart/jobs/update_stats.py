"""Job_UpdateStats: planner statistics (and some vacuuming) for the tables that changed.

PostgreSQL:
1. every table whose rows changed since its last ANALYZE (pg_stat_user_tables.
   n_mod_since_analyze > 0) is analyzed; one with many dead rows (a purge, a
   re-aggregation) is vacuumed and analyzed instead;
2. partitioned fact tables: autovacuum never analyzes a partitioned parent,
   so the parent is analyzed when its partitions changed by more than 10 %.
SQLite has no per-table change counters: ANALYZE of the whole database.
"""

from __future__ import annotations

from django.db import connection

from gimmanager.jobs.context import JobContext
from infomart import sql
from infomart.models import PARTITIONED_FACTS

DEAD_SHARE = 0.2
DEAD_MIN = 10_000


def run(ctx: JobContext) -> None:
    if connection.vendor != "postgresql":
        ctx.check_stop()
        sql.execute("ANALYZE")
        ctx.progress(1, 1)
        ctx.log("SQLite: ANALYZE of the whole database (SQLite keeps no per-table change counters)")
        return
    changed = sql.rows(
        "SELECT s.relname, s.n_mod_since_analyze, s.n_dead_tup, s.n_live_tup FROM pg_stat_user_tables s "
        "JOIN pg_class c ON c.oid = s.relid WHERE s.schemaname = current_schema() AND s.n_mod_since_analyze > 0 "
        "AND NOT c.relispartition ORDER BY s.n_mod_since_analyze DESC")
    parents = []
    for table in PARTITIONED_FACTS:
        mods, live = sql.rows(
            "SELECT COALESCE(SUM(s.n_mod_since_analyze), 0), COALESCE(SUM(s.n_live_tup), 0) "
            "FROM pg_stat_user_tables s JOIN pg_inherits i ON i.inhrelid = s.relid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s", [table])[0]
        if mods and float(mods) > 0.1 * max(float(live), 1.0):
            parents.append(table)
    partitions_changed = sql.rows(
        "SELECT s.relname, s.n_mod_since_analyze, s.n_dead_tup, s.n_live_tup FROM pg_stat_user_tables s "
        "JOIN pg_class c ON c.oid = s.relid WHERE c.relispartition AND s.n_mod_since_analyze > 0")
    parent_of = {name: p for p in parents for name in
                 [r[0] for r in sql.rows("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                         "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s", [p])]}
    # Partitions of a parent analyzed below are analyzed with it.
    work = [r for r in changed + partitions_changed if r[0] not in parent_of]
    total = len(work) + len(parents)
    ctx.log(f"{len(work)} changed tables, {len(parents)} partitioned facts to analyze" if total
            else "no table changed since its last ANALYZE")
    analyzed: list[str] = []
    vacuumed: list[str] = []
    for i, (name, _mods, dead, live) in enumerate(work, 1):
        ctx.check_stop()
        if dead > max(DEAD_MIN, DEAD_SHARE * live):
            sql.execute(f'VACUUM (ANALYZE) "{name}"')  # outside any transaction: autocommit
            vacuumed.append(name)
        else:
            sql.execute(f'ANALYZE "{name}"')
            analyzed.append(name)
        ctx.progress(i, total, name)
    for j, table in enumerate(parents, len(work) + 1):
        ctx.check_stop()
        sql.execute(f"ANALYZE {table}")
        ctx.progress(j, total, table)
    if parents:
        ctx.log(f"ANALYZE of partitioned facts, with their partitions: {', '.join(parents)}")
    if analyzed:
        ctx.log(f"ANALYZE: {', '.join(analyzed)}")
    if vacuumed:
        ctx.log(f"VACUUM (ANALYZE), many dead rows: {', '.join(vacuumed)}")
    ctx.progress(total, total)
