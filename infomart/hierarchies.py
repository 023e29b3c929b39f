"""The aggregate hierarchies (RAA's AGT_* tables read through AG2_* views).

Each hierarchy is ONE declarative `Hierarchy` below: its dimensions, its
measures (with how they roll up) and the SELECTs that produce SUBHOUR rows
from the facts. Everything else is derived from it: the AGT_<H>_<LEVEL>
table and AG2_<H>_<LEVEL> view of every level (created, or rebuilt when the
definition changes, by `deploy`), the recompute statements, `available()` for
the console's re-aggregation dialog, and the -insertPendingAgg check.
Adding a hierarchy = appending one definition to HIERARCHIES.

Levels roll up on the DATE_TIME_AGG calendar (the [schedule] timezone):
SUBHOUR from the facts, then each level from the level below it (HOUR from
SUBHOUR, DAY from HOUR, ... YEAR from QUARTER), as RAA does. A level row's
DATE_TIME_KEY is the UTC epoch of the local start of its interval.

Attribution: counts and durations of a segment (IRF, MSF) go to the interval
in which the segment started (disposition-based); agent state and login
times are split over the 15-minute intervals they cover (interval-based),
and only once the state or session has ended.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from infomart import sql

LEVELS = ("SUBHOUR", "HOUR", "DAY", "MONTH", "QUARTER", "YEAR")
# Table suffix per level (Genesys names interval tables ..._SUBHR).
SUFFIX = {"SUBHOUR": "subhr", "HOUR": "hour", "DAY": "day", "MONTH": "month", "QUARTER": "quarter", "YEAR": "year"}
# The calendar column holding the start key of each level's interval.
LEVEL_KEY = {"SUBHOUR": "date_time_key", "HOUR": "hour_key", "DAY": "day_key", "MONTH": "month_key",
             "QUARTER": "quarter_key", "YEAR": "year_key"}
LEVEL_LABEL = {"SUBHOUR": "local_datetime", "HOUR": "local_datetime", "DAY": "label_yyyy_mm_dd",
               "MONTH": "label_yyyy_mm", "QUARTER": "label_yyyy_q", "YEAR": "label_yyyy"}
CALENDAR = "date_time_agg"

# Service-level threshold of H_QUEUE (accepted within N seconds) and the
# abandon buckets of H_QUEUE_ABN. Genesys reads them from the
# [agg-gim-thld-QUEUE-ACC] / [agg-gim-thld-QUEUE-ABN] sections, which this
# project's option registry does not have: these are the project's values.
SERVICE_LEVEL_SECONDS = 20
ABANDON_BUCKETS = ((0, 5), (5, 10), (10, 20), (20, 30), (30, 60), (60, 120), (120, 300), (300, None))


@dataclass(frozen=True)
class Measure:
    name: str
    rollup: str = "SUM"  # SUM or MAX
    help: str = ""


@dataclass(frozen=True)
class Dim:
    name: str
    refers_to: str  # "resource" or "media_type": the view adds its name


@dataclass(frozen=True)
class Source:
    """A SELECT giving date_time_key, every dimension, and `measures` for SUBHOUR intervals in
    [%(lo)s, %(hi)s). May use %(lookback)s (seconds) and {least}/{greatest}."""

    sql: str
    measures: tuple[str, ...]


@dataclass(frozen=True)
class Hierarchy:
    name: str  # as -insertPendingAgg spells it: H_QUEUE
    table: str  # AGT_<table>_<LEVEL>
    dims: tuple[Dim, ...]
    measures: tuple[Measure, ...]
    sources: tuple[Source, ...]
    help: str

    def table_name(self, level: str) -> str:
        return f"agt_{self.table.lower()}_{SUFFIX[level]}"

    def view_name(self, level: str) -> str:
        return f"ag2_{self.table.lower()}_{SUFFIX[level]}"

    @property
    def dim_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dims)

    @property
    def measure_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.measures)

    def table_ddl(self, level: str) -> str:
        cols = ["date_time_key BIGINT NOT NULL"]
        cols += [f"{d} BIGINT NOT NULL" for d in self.dim_names]
        cols += [f"{m} BIGINT NOT NULL DEFAULT 0" for m in self.measure_names]
        cols.append(f"PRIMARY KEY (date_time_key, {', '.join(self.dim_names)})")
        return f"CREATE TABLE {self.table_name(level)} ({', '.join(cols)})"

    def view_ddl(self, level: str) -> str:
        cols = ["a.date_time_key", f"c.{LEVEL_LABEL[level]} AS interval_label",
                "c.local_datetime AS interval_start_local"]
        joins = [f"LEFT JOIN {CALENDAR} c ON c.date_time_key = a.date_time_key"]
        for i, d in enumerate(self.dims):
            cols.append(f"a.{d.name}")
            label = d.name[:-4] if d.name.endswith("_key") else d.name
            if d.refers_to == "resource":
                joins.append(f"LEFT JOIN resource_ r{i} ON r{i}.resource_key = a.{d.name}")
                cols.append(f"r{i}.resource_name AS {label}_name")
            else:
                joins.append(f"LEFT JOIN media_type m{i} ON m{i}.media_type_key = a.{d.name}")
                cols.append(f"m{i}.media_name AS {label}_name")
        cols += [f"a.{m}" for m in self.measure_names]
        return (f"CREATE VIEW {self.view_name(level)} AS SELECT {', '.join(cols)} "
                f"FROM {self.table_name(level)} a {' '.join(joins)}")

    def definition_hash(self, level: str) -> str:
        text = "\n".join([self.table_ddl(level), self.view_ddl(level)] + [s.sql for s in self.sources]
                         + [f"{m.name}:{m.rollup}" for m in self.measures])
        return hashlib.sha1(text.encode()).hexdigest()


def _overlap(start: str, end: str) -> str:
    """Seconds of [start, end) inside the 15-minute interval c.date_time_key."""
    return f"({{least}}({end}, c.date_time_key + 900) - {{greatest}}({start}, c.date_time_key))"


# Facts overlapping the calendar intervals of [lo, hi): sargable on both sides.
_SPLIT = ("JOIN " + CALENDAR + " c ON c.date_time_key > {alias}.start_ts - 900 AND c.date_time_key < {alias}.end_ts "
          "AND c.date_time_key >= %(lo)s AND c.date_time_key < %(hi)s")

_IRF_MEASURES = """1 AS offered, f.accepted AS accepted, f.ring_duration AS ring_time,
    f.talk_duration AS engage_time, f.hold_duration AS hold_time, f.after_call_work_duration AS wrap_time,
    f.talk_duration + f.hold_duration + f.after_call_work_duration AS handle_time"""

H_AGENT = Hierarchy(
    name="H_AGENT", table="AGENT",
    dims=(Dim("resource_key", "resource"), Dim("media_type_key", "media_type")),
    measures=(
        Measure("offered", help="agent segments (IRF) offered to the agent, by the interval they started"),
        Measure("accepted", help="of those, answered"),
        Measure("ring_time", help="seconds alerting before answer"),
        Measure("engage_time", help="seconds talking (hold excluded)"),
        Measure("hold_time"),
        Measure("wrap_time", help="after-call work of those segments"),
        Measure("handle_time", help="engage + hold + wrap"),
        Measure("ready_time", help="seconds in Ready within the interval"),
        Measure("not_ready_time"),
        Measure("busy_time"),
        Measure("acw_time", help="seconds in AfterCallWork within the interval"),
        Measure("login_time", help="seconds logged in within the interval"),
    ),
    sources=(
        Source(f"""SELECT f.start_date_time_key AS date_time_key, f.resource_key AS resource_key,
    f.media_type_key AS media_type_key, {_IRF_MEASURES}
  FROM interaction_resource_fact f
  WHERE f.start_date_time_key >= %(lo)s AND f.start_date_time_key < %(hi)s""",
               ("offered", "accepted", "ring_time", "engage_time", "hold_time", "wrap_time", "handle_time")),
        Source(f"""SELECT c.date_time_key AS date_time_key, s.resource_key AS resource_key,
    s.media_type_key AS media_type_key,
    CASE WHEN s.resource_state_key = 1 THEN {_overlap('s.start_ts', 's.end_ts')} ELSE 0 END AS ready_time,
    CASE WHEN s.resource_state_key = 2 THEN {_overlap('s.start_ts', 's.end_ts')} ELSE 0 END AS not_ready_time,
    CASE WHEN s.resource_state_key = 3 THEN {_overlap('s.start_ts', 's.end_ts')} ELSE 0 END AS busy_time,
    CASE WHEN s.resource_state_key = 4 THEN {_overlap('s.start_ts', 's.end_ts')} ELSE 0 END AS acw_time
  FROM sm_res_state_fact s {_SPLIT.format(alias='s')}
  WHERE s.start_date_time_key >= %(lo)s - %(lookback)s AND s.start_date_time_key < %(hi)s
    AND s.end_ts IS NOT NULL AND s.end_ts > %(lo)s""",
               ("ready_time", "not_ready_time", "busy_time", "acw_time")),
        Source(f"""SELECT c.date_time_key AS date_time_key, s.resource_key AS resource_key,
    s.media_type_key AS media_type_key, {_overlap('s.start_ts', 's.end_ts')} AS login_time
  FROM sm_res_session_fact s {_SPLIT.format(alias='s')}
  WHERE s.end_ts IS NOT NULL AND s.end_ts > %(lo)s AND s.start_ts < %(hi)s""",
               ("login_time",)),
    ),
    help="Agent handling and agent state times, per agent and media type.",
)

_MSF = "FROM mediation_segment_fact m WHERE m.start_date_time_key >= %(lo)s AND m.start_date_time_key < %(hi)s"

H_QUEUE = Hierarchy(
    name="H_QUEUE", table="QUEUE",
    dims=(Dim("resource_key", "resource"), Dim("media_type_key", "media_type")),
    measures=(
        Measure("entered", help="interactions that entered the queue (MSF), by the interval they entered"),
        Measure("distributed", help="of those, sent to an agent"),
        Measure("accepted", help="of those, answered by the agent"),
        Measure("abandoned", help="customer hung up while waiting in the queue"),
        Measure("accepted_in_threshold", help=f"answered within {SERVICE_LEVEL_SECONDS} s of entering"),
        Measure("wait_time", help="seconds spent in the queue"),
        Measure("accept_time", help="seconds from entering to the answer, answered ones"),
        Measure("abandoned_wait_time", help="seconds waited by the abandoned ones"),
        Measure("max_wait_time", "MAX", help="longest time in the queue"),
        Measure("handle_time", help="talk + hold + wrap of the answering agent"),
    ),
    sources=(
        Source(f"""SELECT m.start_date_time_key AS date_time_key, m.resource_key AS resource_key,
    m.media_type_key AS media_type_key,
    1 AS entered,
    CASE WHEN m.technical_result = 'DIVERTED' THEN 1 ELSE 0 END AS distributed,
    m.accepted AS accepted,
    CASE WHEN m.technical_result = 'ABANDONED' THEN 1 ELSE 0 END AS abandoned,
    CASE WHEN m.accepted = 1 AND m.accept_duration <= {SERVICE_LEVEL_SECONDS} THEN 1 ELSE 0 END
      AS accepted_in_threshold,
    COALESCE(m.mediation_duration, 0) AS wait_time,
    CASE WHEN m.accepted = 1 THEN m.accept_duration ELSE 0 END AS accept_time,
    CASE WHEN m.technical_result = 'ABANDONED' THEN m.mediation_duration ELSE 0 END AS abandoned_wait_time,
    COALESCE(m.mediation_duration, 0) AS max_wait_time,
    CASE WHEN m.accepted = 1 THEN m.target_handle_duration ELSE 0 END AS handle_time
  {_MSF}""", ("entered", "distributed", "accepted", "abandoned", "accepted_in_threshold", "wait_time",
              "accept_time", "abandoned_wait_time", "max_wait_time", "handle_time")),
    ),
    help="Queue activity per queue and media type: offered, answered, abandoned, waits.",
)


def _bucket(lo: int, hi: int | None) -> str:
    name = f"abn_{lo}_{hi}" if hi is not None else f"abn_{lo}_plus"
    cond = f"m.mediation_duration > {lo}" if lo else "m.mediation_duration >= 0"
    if hi is not None:
        cond += f" AND m.mediation_duration <= {hi}"
    return f"CASE WHEN {cond} THEN 1 ELSE 0 END AS {name}"


_BUCKET_NAMES = tuple(f"abn_{lo}_{hi}" if hi is not None else f"abn_{lo}_plus" for lo, hi in ABANDON_BUCKETS)

H_QUEUE_ABN = Hierarchy(
    name="H_QUEUE_ABN", table="QUEUE_ABN",
    dims=(Dim("resource_key", "resource"), Dim("media_type_key", "media_type")),
    measures=(Measure("abandoned", help="abandoned in the queue; only the interaction's last queue counts"),
              Measure("abandoned_wait_time"))
    + tuple(Measure(n, help="abandoned after waiting this many seconds") for n in _BUCKET_NAMES),
    sources=(
        Source(f"""SELECT m.start_date_time_key AS date_time_key, m.resource_key AS resource_key,
    m.media_type_key AS media_type_key, 1 AS abandoned, m.mediation_duration AS abandoned_wait_time,
    {', '.join(_bucket(lo, hi) for lo, hi in ABANDON_BUCKETS)}
  {_MSF} AND m.technical_result = 'ABANDONED' AND m.is_last_entry = 1""",
               ("abandoned", "abandoned_wait_time") + _BUCKET_NAMES),
    ),
    help="Abandons in queues by time waited, counted in the interval the interaction entered its last queue.",
)

H_AGENT_QUEUE = Hierarchy(
    name="H_AGENT_QUEUE", table="AGENT_QUEUE",
    dims=(Dim("resource_key", "resource"), Dim("queue_resource_key", "resource"),
          Dim("media_type_key", "media_type")),
    measures=(Measure("offered"), Measure("accepted"), Measure("ring_time"), Measure("engage_time"),
              Measure("hold_time"), Measure("wrap_time"), Measure("handle_time")),
    sources=(
        Source(f"""SELECT f.start_date_time_key AS date_time_key, f.resource_key AS resource_key,
    f.queue_resource_key AS queue_resource_key, f.media_type_key AS media_type_key, {_IRF_MEASURES}
  FROM interaction_resource_fact f
  WHERE f.start_date_time_key >= %(lo)s AND f.start_date_time_key < %(hi)s AND f.queue_resource_key IS NOT NULL""",
               ("offered", "accepted", "ring_time", "engage_time", "hold_time", "wrap_time", "handle_time")),
    ),
    help="Agent handling per agent and the queue that distributed the interaction.",
)

HIERARCHIES: tuple[Hierarchy, ...] = (H_AGENT, H_QUEUE, H_QUEUE_ABN, H_AGENT_QUEUE)
BY_NAME = {h.name: h for h in HIERARCHIES}


def available() -> tuple[str, ...]:
    """Names of the hierarchies this Info Mart aggregates (for the re-aggregation dialog)."""
    return tuple(h.name for h in HIERARCHIES)


def all_tables() -> list[str]:
    return [h.table_name(level) for h in HIERARCHIES for level in LEVELS]


# --- deployment ------------------------------------------------------------------


# Which definition each AGT table was built from. Not a Django model on purpose:
# it describes tables this module creates, so it lives and dies with them, and
# a test database flush (which empties model tables) does not make every
# aggregate table look unknown and get rebuilt after every test.
DEPLOYMENT_DDL = ("CREATE TABLE IF NOT EXISTS ctl_agg_deployment (table_name VARCHAR(64) PRIMARY KEY, "
                  "hierarchy VARCHAR(32) NOT NULL, level VARCHAR(16) NOT NULL, definition_hash VARCHAR(40) NOT NULL, "
                  "deployed_ts BIGINT NOT NULL)")


def deploy(now_ts: int) -> list[str]:
    """Create missing AGT tables and AG2 views; rebuild those whose definition changed.

    Returns the tables (re)created, which are empty: the caller queues their
    re-aggregation. Idempotent; run inside a transaction.
    """
    sql.execute(DEPLOYMENT_DDL)
    known = dict(sql.rows("SELECT table_name, definition_hash FROM ctl_agg_deployment"))
    from django.db import connection

    with connection.cursor() as cur:
        existing = set(connection.introspection.table_names(cur, include_views=True))
    rebuilt: list[str] = []
    for h in HIERARCHIES:
        for level in LEVELS:
            table, digest = h.table_name(level), h.definition_hash(level)
            if known.get(table) == digest and table in existing and h.view_name(level) in existing:
                continue
            sql.execute(f"DROP VIEW IF EXISTS {h.view_name(level)}")
            sql.execute(f"DROP TABLE IF EXISTS {table}")
            sql.execute(h.table_ddl(level))
            sql.execute(h.view_ddl(level))
            sql.execute("DELETE FROM ctl_agg_deployment WHERE table_name = %s", [table])
            sql.execute("INSERT INTO ctl_agg_deployment (table_name, hierarchy, level, definition_hash, deployed_ts) "
                        "VALUES (%s, %s, %s, %s, %s)", [table, h.name, level, digest, now_ts])
            rebuilt.append(table)
    return rebuilt


# --- recomputation ------------------------------------------------------------------


def _flavor(online: bool | None, alias: str = "") -> str:
    if online is None:
        return ""
    col = f"{alias}.media_type_key" if alias else "media_type_key"
    return f" AND {col} IN (SELECT media_type_key FROM media_type WHERE is_online = %(online)s)"


def recompute_subhour(h: Hierarchy, lo: int, hi: int, *, lookback: int, online: bool | None = None) -> int:
    """Replace the SUBHOUR rows with keys in [lo, hi) by what the facts say; rows written."""
    d = sql.dialect()
    table = h.table_name("SUBHOUR")
    params = {"lo": lo, "hi": hi, "lookback": lookback, "online": online}
    sql.execute(f"DELETE FROM {table} WHERE date_time_key >= %(lo)s AND date_time_key < %(hi)s{_flavor(online)}",
                params)
    parts = []
    for src in h.sources:
        select = ", ".join(["date_time_key", *h.dim_names]
                           + [(f"COALESCE({m}, 0) AS {m}" if m in src.measures else f"0 AS {m}")
                              for m in h.measure_names])
        parts.append(f"SELECT {select} FROM ({src.sql.format(least=d.least, greatest=d.greatest)}) s")
    aggs = ", ".join(f"{m.rollup}({m.name})" for m in h.measures)
    keys = ", ".join(["date_time_key", *h.dim_names])
    return sql.execute(
        f"INSERT INTO {table} ({keys}, {', '.join(h.measure_names)}) "
        f"SELECT {keys}, {aggs} FROM ({' UNION ALL '.join(parts)}) u WHERE 1 = 1{_flavor(online)} "
        f"GROUP BY {keys}", params)


def recompute_rollup(h: Hierarchy, level: str, first_key: int, last_key: int, end: int,
                     *, online: bool | None = None) -> int:
    """Replace the `level` rows with start keys in [first_key, last_key] by summing the level below.

    `end` is the end of the last_key interval: the rows below lie in [first_key, end).
    """
    below = LEVELS[LEVELS.index(level) - 1]
    table, src = h.table_name(level), h.table_name(below)
    col = LEVEL_KEY[level]
    params = {"k1": first_key, "k2": last_key, "end": end, "online": online}
    sql.execute(f"DELETE FROM {table} WHERE date_time_key >= %(k1)s AND date_time_key <= %(k2)s{_flavor(online)}",
                params)
    dims = ", ".join(f"a.{x}" for x in h.dim_names)
    aggs = ", ".join(f"{m.rollup}(a.{m.name})" for m in h.measures)
    # The rows below in [first_key, end) are exactly those of the intervals first_key..last_key
    # (levels nest), so the calendar is only looked up by key, never range-scanned: the plan
    # cannot go wrong when calendar days were added after its statistics were taken.
    return sql.execute(
        f"INSERT INTO {table} (date_time_key, {', '.join(h.dim_names)}, {', '.join(h.measure_names)}) "
        f"SELECT c.{col}, {dims}, {aggs} FROM {src} a JOIN {CALENDAR} c ON c.date_time_key = a.date_time_key "
        f"WHERE a.date_time_key >= %(k1)s AND a.date_time_key < %(end)s{_flavor(online, 'a')} "
        f"GROUP BY c.{col}, {dims}", params)


def level_span(level: str, lo: int, hi: int, *, containing: bool) -> tuple[int, int, int] | None:
    """The `level` intervals to recompute for the UTC range [lo, hi) (both multiples of 900).

    containing=True: every interval that contains a 15-minute interval of the
    range (changed facts). containing=False: the intervals that START in the
    range (-insertPendingAgg). Returns (first key, last key, end of last) or None.
    """
    col = LEVEL_KEY[level]
    if containing:
        row = sql.rows(f"SELECT MIN({col}), MAX({col}) FROM {CALENDAR} "
                       "WHERE date_time_key >= %s AND date_time_key < %s", [lo, hi])[0]
    else:
        row = sql.rows(f"SELECT MIN({col}), MAX({col}) FROM {CALENDAR} WHERE {col} >= %s AND {col} < %s",
                       [lo, hi])[0]
    if row[0] is None:
        return None
    end = sql.scalar(f"SELECT MAX(date_time_key) FROM {CALENDAR} WHERE {col} = %s", [row[1]]) + 900
    return int(row[0]), int(row[1]), int(end)


def recompute(h: Hierarchy, levels: tuple[str, ...], lo: int, hi: int, *, lookback: int,
              containing: bool, online: bool | None = None) -> int:
    """Recompute `levels` (in LEVELS order) of one hierarchy for the UTC range [lo, hi); rows written."""
    written = 0
    for level in LEVELS:
        if level not in levels:
            continue
        span = level_span(level, lo, hi, containing=containing)
        if span is None:
            continue
        if level == "SUBHOUR":
            written += recompute_subhour(h, span[0], span[2], lookback=lookback, online=online)
        else:
            written += recompute_rollup(h, level, *span, online=online)
    return written
