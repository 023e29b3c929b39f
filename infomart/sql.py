"""Small helpers for the jobs' set-based SQL, and the one place where
PostgreSQL and SQLite differ.

The statements are written once in SQL both engines accept (INSERT ...
SELECT ... ON CONFLICT ... DO UPDATE, IS DISTINCT FROM, integer division,
window-free GROUP BYs); `Dialect` fills the few gaps: two-argument
LEAST/GREATEST, the conflict target of a partitioned fact (PostgreSQL's key
includes the partition column), and how to empty a work table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper

from infomart.models import PARTITIONED_FACTS

# The primary key column of each fact, as Django declares it; PostgreSQL's
# partitioned tables add START_DATE_TIME_KEY to it.
FACT_PK = {
    "interaction_fact": "interaction_id",
    "interaction_resource_fact": "interaction_resource_id",
    "mediation_segment_fact": "mediation_segment_id",
    "sm_res_state_fact": "sm_res_state_fact_key",
    "sm_res_session_fact": "sm_res_session_fact_key",
}


@dataclass(frozen=True)
class Dialect:
    vendor: str

    @property
    def is_postgres(self) -> bool:
        return self.vendor == "postgresql"

    @property
    def least(self) -> str:
        # SQLite's two-argument MIN/MAX are scalar functions, like LEAST/GREATEST.
        return "LEAST" if self.is_postgres else "MIN"

    @property
    def greatest(self) -> str:
        return "GREATEST" if self.is_postgres else "MAX"

    def conflict_target(self, table: str) -> str:
        pk = FACT_PK[table]
        if self.is_postgres and table in PARTITIONED_FACTS:
            return f"{pk}, start_date_time_key"
        return pk

    def clear(self, table: str) -> str:
        return f"TRUNCATE {table}" if self.is_postgres else f"DELETE FROM {table}"

    def temp_table(self, name: str, columns: str) -> str:
        return f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns})"


def dialect(conn: BaseDatabaseWrapper | None = None) -> Dialect:
    return Dialect((conn or default_connection).vendor)


def execute(sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None,
            conn: BaseDatabaseWrapper | None = None) -> int:
    """Run one statement; the number of rows it changed."""
    with (conn or default_connection).cursor() as cur:
        cur.execute(sql, params)
        return max(cur.rowcount, 0)


def scalar(sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None,
           conn: BaseDatabaseWrapper | None = None) -> Any:
    with (conn or default_connection).cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
        return row[0] if row else None


def rows(sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None,
         conn: BaseDatabaseWrapper | None = None) -> list[tuple[Any, ...]]:
    with (conn or default_connection).cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def executemany(sql: str, params: Iterable[Sequence[Any]], conn: BaseDatabaseWrapper | None = None) -> None:
    with (conn or default_connection).cursor() as cur:
        cur.executemany(sql, list(params))


def analyze_if_stale(tables: Iterable[str], *, share: float = 0.2, minimum: int = 1000) -> list[str]:
    """PostgreSQL: ANALYZE the tables changed by more than `share` of their rows since their
    last analyze (a bulk load outruns autovacuum, and the planner then misjudges every join)."""
    if default_connection.vendor != "postgresql":
        return []
    names = list(tables)
    # The named tables, and the partitions of those that are partitioned (the planner
    # uses each partition's own statistics).
    stale = [r[0] for r in rows(
        "SELECT s.relname FROM pg_stat_user_tables s WHERE (s.relname = ANY(%s) OR s.relid IN ("
        "SELECT i.inhrelid FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ANY(%s))) "
        "AND s.n_mod_since_analyze > GREATEST(%s, %s * s.n_live_tup)", [names, names, minimum, share])]
    for name in stale:
        execute(f"ANALYZE {name}")
    return stale


ETL_WORK_MEM = "64MB"


def etl_transaction() -> None:
    """PostgreSQL settings for the rest of a chunk's transaction.

    - No JIT: the jobs run the same statements chunk after chunk, and compiling
      them costs more than it saves (hundreds of milliseconds each).
    - Asynchronous commit: a crash of the database server may forget the last
      chunks committed, but each chunk's data and its mark are one transaction,
      so they are forgotten together and redone by the next run: consistent,
      and many short commits no longer wait for a WAL flush each.
    - work_mem for this transaction only: a chunk's joins and GROUP BYs (tens
      of thousands of calls) then hash in memory instead of sorting on disk.
    """
    if default_connection.vendor == "postgresql":
        execute("SET LOCAL jit = off")
        execute("SET LOCAL synchronous_commit = off")
        execute(f"SET LOCAL work_mem = '{ETL_WORK_MEM}'")


def bulk_insert(table: str, columns: Sequence[str], data: Sequence[Sequence[Any]],
                conn: BaseDatabaseWrapper | None = None) -> None:
    """Insert many rows fast: COPY on PostgreSQL, batched executemany elsewhere."""
    c = conn or default_connection
    if not data:
        return
    cols = ", ".join(columns)
    with c.cursor() as cur:
        if c.vendor == "postgresql":
            with cur.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            for i in range(0, len(data), 5000):
                cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(data[i:i + 5000]))


def table_exists(name: str, conn: BaseDatabaseWrapper | None = None) -> bool:
    c = conn or default_connection
    with c.cursor() as cur:
        return name in c.introspection.table_names(cur, include_views=True)


def epoch(instant: datetime) -> int:
    return int(instant.timestamp())


def from_epoch(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def interval_key(ts: int) -> int:
    """DATE_TIME key of the 15-minute interval containing ts."""
    return ts // 900 * 900
