"""Daily range partitions of the big fact tables (PostgreSQL only).

The facts in models.PARTITIONED_FACTS are partitioned by START_DATE_TIME_KEY
(UTC epoch seconds) into one partition per UTC day, named
`<table>_pYYYYMMDD`. Job_MaintainGIM creates partitions
`partitioning-ahead-range` days ahead and drops those whose whole day is older
than `days-to-keep-gim-facts` (instead of deleting their rows);
Job_TransformGIM creates the ones a chunk needs (history loaded late) in a
short transaction of its own before the chunk.

Partition size is this project's choice (Genesys: partitioning-interval-size-gim,
default 86400 s, which our option registry does not have).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper

from infomart import sql
from infomart.models import PARTITIONED_FACTS

PARTITION_SECONDS = 86400
_NAME = re.compile(r"_p(\d{8})$")


def enabled(conn: BaseDatabaseWrapper | None = None) -> bool:
    return (conn or connection).vendor == "postgresql"


def partition_name(table: str, start_key: int) -> str:
    return f"{table}_p{datetime.fromtimestamp(start_key, UTC):%Y%m%d}"


def existing(table: str) -> dict[int, str]:
    """Partitions of `table`: {start key: partition name}."""
    found: dict[int, str] = {}
    for (name,) in sql.rows(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s", [table]):
        m = _NAME.search(name)
        if m:
            day = datetime.strptime(m.group(1), "%Y%m%d").replace(tzinfo=UTC)
            found[int(day.timestamp())] = name
    return found


def ensure(lo_key: int, hi_key: int, tables: tuple[str, ...] = PARTITIONED_FACTS) -> list[str]:
    """Create the missing daily partitions covering keys [lo_key, hi_key]; their names."""
    if not enabled():
        return []
    first = lo_key // PARTITION_SECONDS * PARTITION_SECONDS
    created: list[str] = []
    for table in tables:
        have = existing(table)
        day = first
        while day <= hi_key:
            if day not in have:
                name = partition_name(table, day)
                sql.execute(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} "
                            f"FOR VALUES FROM ({day}) TO ({day + PARTITION_SECONDS})")
                created.append(name)
            day += PARTITION_SECONDS
    return created


def missing(lo_key: int, hi_key: int, tables: tuple[str, ...] = PARTITIONED_FACTS) -> bool:
    """Whether some day in [lo_key, hi_key] lacks a partition of one of the tables."""
    if not enabled():
        return False
    days = range(lo_key // PARTITION_SECONDS * PARTITION_SECONDS, hi_key + 1, PARTITION_SECONDS)
    return any(day not in have for have in (existing(t) for t in tables) for day in days)


def expired(table: str, cutoff_ts: int) -> list[tuple[int, str]]:
    """Partitions whose every possible row starts before cutoff_ts, oldest first."""
    return sorted((start, name) for start, name in existing(table).items()
                  if start + PARTITION_SECONDS <= cutoff_ts)


def drop(name: str) -> None:
    sql.execute(f"DROP TABLE IF EXISTS {name}")


# --- migration 0002 -----------------------------------------------------------

def convert_to_partitioned(schema_editor: object, table: str, pk: str) -> None:
    """Rebuild a Django-created fact table as a partitioned one (same columns).

    The primary key becomes (pk, start_date_time_key), since PostgreSQL needs
    the partition column in every unique index; the named indexes are recreated.
    """
    with schema_editor.connection.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE %s",
            [table, "%_pkey"])
        indexes = cur.fetchall()
        cur.execute(f"ALTER TABLE {table} RENAME TO {table}_django")
        cur.execute(f"CREATE TABLE {table} (LIKE {table}_django INCLUDING DEFAULTS) "
                    "PARTITION BY RANGE (start_date_time_key)")
        cur.execute(f"DROP TABLE {table}_django")
        cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({pk}, start_date_time_key)")
        for _name, definition in indexes:
            # Captured before the rename, so they name the new (partitioned) table.
            cur.execute(definition)
