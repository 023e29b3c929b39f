"""Job_TransformGIM: staged IDB rows -> dimensions and facts, set-based.

1. Configuration: GIDB_GC_* rows past their marks are merged into MEDIA_TYPE,
   GROUP_ and RESOURCE_ (one statement each), with their marks, in one
   transaction.
2. Events, chunk by chunk: each chunk takes up to 20 x `extract-data-chunk-size`
   rows past the mark of every event staging table (windows aligned in time).
   The calls those rows touch are collected in a work table, everything staged
   for them is read into work tables by index (never by a scan of staging,
   whose cost would grow with its size), and the facts of exactly those calls
   (INTERACTION_FACT, INTERACTION_RESOURCE_FACT, MEDIATION_SEGMENT_FACT) are
   rebuilt from everything staged for them and merged (INSERT ... SELECT ...
   ON CONFLICT DO UPDATE, writing only rows that differ). That is how late
   updates work: a call that ends after the extraction that saw it start
   gets a new GSYS_USEQ, is staged again, falls in a later chunk, and its
   facts are rebuilt whole. Agent states and login sessions map one staged
   row to one fact row. The chunk also queues the UTC ranges whose
   aggregates must be recomputed (CTL_PENDING_AGG), writes its audit row and
   one CTL_TRANSFORM_HISTORY mark per staging table, all in ONE transaction.
3. Sweeps: open agent states older than `max-state-duration` are closed at
   start + max-state-duration, interactions active longer than
   `days-to-keep-active-facts` are ended (STATUS 2).

A staged row is "done" when its GSYS_USEQ is at or below its table's mark
(CTL_TRANSFORM_HISTORY): no per-row flag is rewritten.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import transaction

from gimmanager import clock
from gimmanager.jobs.context import JobContext
from infomart import calendar, control, partitions, sql
from infomart.models import (
    IXN_ACTIVE,
    IXN_COMPLETED,
    IXN_TERMINATED_BY_AGE,
    RESOURCE_AGENT,
    RESOURCE_KEY_FACTOR,
    RESOURCE_QUEUE,
    CtlTransformHistory,
)

# A transformation chunk takes up to this many times extract-data-chunk-size rows
# of each staging table: building facts costs a few statements per chunk
# whatever its size, so bigger chunks go faster (project choice; Genesys has
# no separate option for it that we know of).
TRANSFORM_CHUNK_FACTOR = 20
AGENT = RESOURCE_AGENT * RESOURCE_KEY_FACTOR
QUEUE = RESOURCE_QUEUE * RESOURCE_KEY_FACTOR

CONFIG_TABLES = ("gidb_gc_media_type", "gidb_gc_group", "gidb_gc_agent", "gidb_gc_endpoint")
EVENT_TABLES = ("gidb_g_ir", "gidb_g_call", "gidb_g_party", "gidb_g_party_history", "gidb_g_login_session",
                "gidb_g_agent_state_history")
# The column holding when each staged row's activity started (calendar and partitions must cover it).
START_COLUMN = {"gidb_g_ir": "created_ts", "gidb_g_call": "created_ts", "gidb_g_party": "created_ts",
                "gidb_g_party_history": "added_ts", "gidb_g_login_session": "login_ts",
                "gidb_g_agent_state_history": "start_ts"}


def _window(t: str, alias: str = "") -> str:
    col = f"{alias}.gsys_useq" if alias else "gsys_useq"
    return f"{col} > %({t}_lo)s AND {col} <= %({t}_hi)s"


def _merge(table: str, columns: list[str], select: str, d: sql.Dialect) -> str:
    """INSERT ... SELECT ... ON CONFLICT DO UPDATE that rewrites a fact only when it changed."""
    key = d.conflict_target(table)
    keys = {k.strip() for k in key.split(",")}
    data = [c for c in columns if c not in keys and c not in ("create_audit_key", "update_audit_key")]
    sets = ", ".join(f"{c} = excluded.{c}" for c in data)
    changed = " OR ".join(f"{table}.{c} IS DISTINCT FROM excluded.{c}" for c in data)
    return (f"INSERT INTO {table} ({', '.join(columns)}) {select} "
            f"ON CONFLICT ({key}) DO UPDATE SET {sets}, update_audit_key = excluded.update_audit_key "
            f"WHERE {changed}")


# --- 1. configuration -----------------------------------------------------------

CONFIG_MERGES = {
    "gidb_gc_media_type": (
        "INSERT INTO media_type (media_type_key, media_name, media_name_code, is_online, create_audit_key, "
        "update_audit_key) SELECT id, name, UPPER(name), is_online, %(audit)s, %(audit)s FROM gidb_gc_media_type "
        "WHERE " + _window("gidb_gc_media_type") + " ON CONFLICT (media_type_key) DO UPDATE SET "
        "media_name = excluded.media_name, media_name_code = excluded.media_name_code, "
        "is_online = excluded.is_online, update_audit_key = excluded.update_audit_key"),
    "gidb_gc_group": (
        "INSERT INTO group_ (group_key, group_name, group_type, create_audit_key, update_audit_key) "
        "SELECT id, name, 'Agent', %(audit)s, %(audit)s FROM gidb_gc_group WHERE " + _window("gidb_gc_group")
        + " ON CONFLICT (group_key) DO UPDATE SET group_name = excluded.group_name, "
        "update_audit_key = excluded.update_audit_key"),
    "gidb_gc_agent": (
        "INSERT INTO resource_ (resource_key, resource_type, resource_type_code, resource_name, resource_cfg_dbid, "
        "agent_first_name, agent_last_name, employee_id, group_key, create_audit_key, update_audit_key) "
        f"SELECT id + {AGENT}, 'Agent', 'AGENT', user_name, id, first_name, last_name, employee_id, group_id, "
        "%(audit)s, %(audit)s FROM gidb_gc_agent WHERE " + _window("gidb_gc_agent")
        + " ON CONFLICT (resource_key) DO UPDATE SET resource_name = excluded.resource_name, "
        "agent_first_name = excluded.agent_first_name, agent_last_name = excluded.agent_last_name, "
        "employee_id = excluded.employee_id, group_key = excluded.group_key, "
        "update_audit_key = excluded.update_audit_key"),
    "gidb_gc_endpoint": (
        "INSERT INTO resource_ (resource_key, resource_type, resource_type_code, resource_name, resource_cfg_dbid, "
        "agent_first_name, agent_last_name, employee_id, group_key, create_audit_key, update_audit_key) "
        f"SELECT id + {QUEUE}, 'Queue', 'QUEUE', name, id, '', '', '', NULL, %(audit)s, %(audit)s "
        "FROM gidb_gc_endpoint WHERE " + _window("gidb_gc_endpoint")
        + " ON CONFLICT (resource_key) DO UPDATE SET resource_name = excluded.resource_name, "
        "update_audit_key = excluded.update_audit_key"),
}


def transform_config(ctx: JobContext) -> int:
    started = clock.now()
    with transaction.atomic():
        bounds = {t: (control.transform_mark(t), None) for t in CONFIG_TABLES}
        bounds = {t: (lo, control.chunk_upper(t, lo, 10**9)) for t, (lo, _) in bounds.items()}
        todo = {t: (lo, hi) for t, (lo, hi) in bounds.items() if hi is not None}
        if not todo:
            return 0
        audit = control.new_audit(ctx, now=started)
        params: dict[str, Any] = {"audit": audit}
        for t, (lo, hi) in bounds.items():
            params[f"{t}_lo"], params[f"{t}_hi"] = lo, hi if hi is not None else lo
        total = 0
        for t, (lo, hi) in todo.items():
            n = sql.execute(CONFIG_MERGES[t], params)
            total += n
            _mark(ctx, t, hi, n, audit, started)
        sql.execute("UPDATE ctl_audit_log SET row_count = %s WHERE audit_key = %s", [total, audit])
    ctx.log(f"configuration: {total} dimension rows merged (media types, groups, agents, queues)")
    return total


def _mark(ctx: JobContext, table: str, hwm: int, n: int, audit: int, started: Any) -> None:
    now = clock.now()
    CtlTransformHistory.objects.create(
        job_id=str(ctx.run_id), hwm_name=table, hwm_value=hwm, row_count=n, transform_start_time=started,
        transform_end_time=now, audit_key=audit, created_ts=sql.epoch(now))


# --- 2. events --------------------------------------------------------------------

WORK_TABLES = {
    "im_aff_call": "callid VARCHAR(50) PRIMARY KEY",
    "im_call": ("callid VARCHAR(50) PRIMARY KEY, ir_id BIGINT, irid VARCHAR(50), media_type_id BIGINT, "
                "calltype INTEGER, ani VARCHAR(255), dnis VARCHAR(255), created_ts BIGINT, terminated_ts BIGINT"),
    "im_party": ("id BIGINT PRIMARY KEY, partyid VARCHAR(50), parent_partyid VARCHAR(50), callid VARCHAR(50), "
                 "type INTEGER, endpoint_id BIGINT, agent_id BIGINT, end_cause INTEGER, created_ts BIGINT, "
                 "terminated_ts BIGINT"),
    "im_party_event": "partyid VARCHAR(50) PRIMARY KEY, est_ts BIGINT, held_ts BIGINT, retr_ts BIGINT",
    "im_acw": "callid VARCHAR(50), agent_id BIGINT, acw BIGINT, PRIMARY KEY (callid, agent_id)",
    "im_agent_seg": ("id BIGINT PRIMARY KEY, partyid VARCHAR(50), parent_partyid VARCHAR(50), callid VARCHAR(50), "
                     "agent_id BIGINT, created_ts BIGINT, terminated_ts BIGINT, end_cause INTEGER, est_ts BIGINT, "
                     "held_ts BIGINT, retr_ts BIGINT, acw BIGINT"),
}

def _by(d: sql.Dialect, table: str, alias: str, condition: str) -> str:
    """Join `table` to each row so far through the index that `condition` looks up.

    On PostgreSQL a LATERAL subquery behind OFFSET 0 (which the planner may not flatten)
    fixes the plan: for each touched call, an index lookup. Planned as an ordinary join,
    a statement over a few thousand calls in a staging table of millions is cheaper to
    run with one scan of the table (hash join, or a whole index in order); but every
    chunk would repeat that scan, so the transformation would grow with the square of
    its backlog and a cycle with the size of staging. SQLite plans nested loops anyway.
    """
    if d.is_postgres:
        return f"CROSS JOIN LATERAL (SELECT * FROM {table} {alias} WHERE {condition} OFFSET 0) {alias}"
    return f"JOIN {table} {alias} ON {condition}"


@cache  # built once per dialect, like the fact merges once per run
def lookups(d: sql.Dialect) -> dict[str, str]:
    """The statements that read the chunk's calls out of staging, into work tables, in order."""
    return {
        # The calls that the chunk's rows touch.
        "im_aff_call": f"""INSERT INTO im_aff_call (callid)
SELECT callid FROM gidb_g_call WHERE {_window('gidb_g_call')}
UNION SELECT callid FROM gidb_g_party WHERE {_window('gidb_g_party')}
UNION SELECT callid FROM gidb_g_party_history WHERE {_window('gidb_g_party_history')}
UNION SELECT c.callid FROM gidb_g_ir i {_by(d, 'gidb_g_call', 'c', 'c.irid = i.irid')}
  WHERE {_window('gidb_g_ir', 'i')}
UNION SELECT callid FROM gidb_g_agent_state_history
  WHERE {_window('gidb_g_agent_state_history')} AND callid IS NOT NULL""",
        # The touched calls with their interaction record, joined once for the three facts.
        "im_call": f"""INSERT INTO im_call (callid, ir_id, irid, media_type_id, calltype, ani, dnis, created_ts,
    terminated_ts)
SELECT c.callid, i.id, i.irid, c.media_type_id, c.calltype, c.ani, c.dnis, i.created_ts, i.terminated_ts
FROM im_aff_call a {_by(d, 'gidb_g_call', 'c', 'c.callid = a.callid')} {_by(d, 'gidb_g_ir', 'i', 'i.irid = c.irid')}""",
        # Every party of the touched calls.
        "im_party": f"""INSERT INTO im_party (id, partyid, parent_partyid, callid, type, endpoint_id, agent_id,
    end_cause, created_ts, terminated_ts)
SELECT p.id, p.partyid, p.parent_partyid, p.callid, p.type, p.endpoint_id, p.agent_id, p.end_cause, p.created_ts,
       p.terminated_ts
FROM im_aff_call a {_by(d, 'gidb_g_party', 'p', 'p.callid = a.callid')}""",
        # The parties' connected, held and retrieved times, pivoted out of G_PARTY_HISTORY.
        "im_party_event": f"""INSERT INTO im_party_event (partyid, est_ts, held_ts, retr_ts)
SELECT h.partyid, MIN(CASE WHEN h.ccevent = 3 THEN h.added_ts END), MIN(CASE WHEN h.ccevent = 4 THEN h.added_ts END),
       MIN(CASE WHEN h.ccevent = 5 THEN h.added_ts END)
FROM im_aff_call a {_by(d, 'gidb_g_party_history', 'h', 'h.callid = a.callid')}
WHERE h.ccevent IN (3, 4, 5)
GROUP BY h.partyid""",
        # Each agent's after-call work on a call, from its AfterCallWork states.
        "im_acw": f"""INSERT INTO im_acw (callid, agent_id, acw)
SELECT s.callid, s.agent_id, SUM(s.end_ts - s.start_ts)
FROM im_aff_call a {_by(d, 'gidb_g_agent_state_history', 's', 's.callid = a.callid')}
WHERE s.state = 4 AND s.end_ts IS NOT NULL
GROUP BY s.callid, s.agent_id""",
    }


# Every agent segment of the touched calls, with its events and after-call work.
AGENT_SEGMENTS = """INSERT INTO im_agent_seg (id, partyid, parent_partyid, callid, agent_id, created_ts,
    terminated_ts, end_cause, est_ts, held_ts, retr_ts, acw)
SELECT p.id, p.partyid, p.parent_partyid, p.callid, p.agent_id, p.created_ts, p.terminated_ts, p.end_cause,
       h.est_ts, h.held_ts, h.retr_ts, COALESCE(w.acw, 0)
FROM im_party p
LEFT JOIN im_party_event h ON h.partyid = p.partyid
LEFT JOIN im_acw w ON w.callid = p.callid AND w.agent_id = p.agent_id
WHERE p.type = 1 AND p.agent_id IS NOT NULL"""

_HOLD = ("CASE WHEN s.held_ts IS NULL THEN 0 "
         "ELSE COALESCE(s.retr_ts, s.terminated_ts, s.held_ts) - s.held_ts END")

IF_COLUMNS = ["interaction_id", "start_date_time_key", "end_date_time_key", "start_ts", "end_ts", "media_type_key",
              "interaction_type_key", "media_server_ixn_guid", "media_server_root_ixn_guid", "source_address",
              "target_address", "status", "create_audit_key", "update_audit_key"]
_IXN_END = ("COALESCE(c.terminated_ts, CASE WHEN c.created_ts < %(active_cutoff)s "
            "THEN c.created_ts + %(active_age)s END)")
IF_SELECT = f"""SELECT c.ir_id, c.created_ts / 900 * 900, {_IXN_END} / 900 * 900, c.created_ts, {_IXN_END},
    c.media_type_id, c.calltype, c.callid, c.irid, c.ani, c.dnis,
    CASE WHEN c.terminated_ts IS NOT NULL THEN {IXN_COMPLETED}
         WHEN c.created_ts < %(active_cutoff)s THEN {IXN_TERMINATED_BY_AGE} ELSE {IXN_ACTIVE} END,
    %(audit)s, %(audit)s
FROM im_call c
WHERE 1 = 1"""

IRF_COLUMNS = ["interaction_resource_id", "start_date_time_key", "end_date_time_key", "start_ts", "end_ts",
               "media_type_key", "interaction_type_key", "interaction_id", "resource_key", "queue_resource_key",
               "mediation_segment_id", "technical_result", "accepted", "ring_duration", "talk_duration",
               "hold_duration", "after_call_work_duration", "create_audit_key", "update_audit_key"]
IRF_SELECT = f"""SELECT s.id, s.created_ts / 900 * 900, s.terminated_ts / 900 * 900, s.created_ts, s.terminated_ts,
    c.media_type_id, c.calltype, c.ir_id, s.agent_id + {AGENT}, q.endpoint_id + {QUEUE}, q.id,
    CASE WHEN s.terminated_ts IS NULL THEN 'ACTIVE' WHEN s.end_cause = 4 THEN 'TRANSFERRED' ELSE 'COMPLETED' END,
    CASE WHEN s.est_ts IS NULL THEN 0 ELSE 1 END,
    CASE WHEN s.est_ts IS NOT NULL THEN s.est_ts - s.created_ts
         WHEN s.terminated_ts IS NOT NULL THEN s.terminated_ts - s.created_ts ELSE 0 END,
    CASE WHEN s.est_ts IS NOT NULL AND s.terminated_ts IS NOT NULL
         THEN s.terminated_ts - s.est_ts - ({_HOLD}) ELSE 0 END,
    CASE WHEN s.terminated_ts IS NULL THEN 0 ELSE {_HOLD} END,
    s.acw, %(audit)s, %(audit)s
FROM im_agent_seg s
JOIN im_call c ON c.callid = s.callid
LEFT JOIN im_party q ON q.partyid = s.parent_partyid AND q.type = 4  -- its queue party, in the same call
WHERE 1 = 1"""

MSF_COLUMNS = ["mediation_segment_id", "start_date_time_key", "end_date_time_key", "start_ts", "end_ts",
               "media_type_key", "interaction_type_key", "interaction_id", "resource_key", "target_irf_id",
               "technical_result", "is_last_entry", "mediation_duration", "accepted", "accept_duration",
               "target_handle_duration", "create_audit_key", "update_audit_key"]
MSF_SELECT = f"""SELECT q.id, q.created_ts / 900 * 900, q.terminated_ts / 900 * 900, q.created_ts, q.terminated_ts,
    c.media_type_id, c.calltype, c.ir_id, q.endpoint_id + {QUEUE}, t.id,
    CASE WHEN q.terminated_ts IS NULL THEN 'ACTIVE' WHEN q.end_cause = 2 THEN 'ABANDONED' ELSE 'DIVERTED' END,
    CASE WHEN q.entry_from_last = 1 THEN 1 ELSE 0 END,
    q.terminated_ts - q.created_ts,
    CASE WHEN t.est_ts IS NULL THEN 0 ELSE 1 END,
    t.est_ts - q.created_ts,
    CASE WHEN t.est_ts IS NOT NULL AND t.terminated_ts IS NOT NULL THEN t.terminated_ts - t.est_ts + t.acw
         ELSE 0 END,
    %(audit)s, %(audit)s
FROM im_call c
JOIN (SELECT p.*, ROW_NUMBER() OVER (PARTITION BY p.callid ORDER BY p.created_ts DESC, p.id DESC) AS entry_from_last
      FROM im_party p WHERE p.type = 4) q ON q.callid = c.callid
LEFT JOIN im_agent_seg t ON t.parent_partyid = q.partyid
    AND NOT EXISTS (SELECT 1 FROM im_agent_seg t2 WHERE t2.parent_partyid = q.partyid AND t2.id < t.id)
WHERE 1 = 1"""

STATE_COLUMNS = ["sm_res_state_fact_key", "start_date_time_key", "end_date_time_key", "start_ts", "end_ts",
                 "resource_key", "media_type_key", "resource_state_key", "total_duration", "create_audit_key",
                 "update_audit_key"]
STATE_SELECT = f"""SELECT s.id, s.start_ts / 900 * 900, s.e / 900 * 900, s.start_ts, s.e, s.agent_id + {AGENT},
    s.media_type_id, s.state, s.e - s.start_ts, %(audit)s, %(audit)s
FROM (SELECT id, start_ts, agent_id, media_type_id, state,
             CASE WHEN end_ts IS NOT NULL THEN {{least}}(end_ts, start_ts + %(max_state)s)
                  WHEN start_ts + %(max_state)s <= %(now)s THEN start_ts + %(max_state)s END AS e
      FROM gidb_g_agent_state_history WHERE {_window('gidb_g_agent_state_history')}) s
WHERE 1 = 1"""

SESSION_COLUMNS = ["sm_res_session_fact_key", "start_date_time_key", "end_date_time_key", "start_ts", "end_ts",
                   "resource_key", "media_type_key", "total_duration", "create_audit_key", "update_audit_key"]
SESSION_SELECT = f"""SELECT id, login_ts / 900 * 900, logout_ts / 900 * 900, login_ts, logout_ts,
    agent_id + {AGENT}, media_type_id, logout_ts - login_ts, %(audit)s, %(audit)s
FROM gidb_g_login_session WHERE {_window('gidb_g_login_session')}"""

# Aggregation ranges: segments count in the interval they start in; a state's
# time may reach max-state-duration past its start (an earlier, capped version
# of it too), a session's up to its logout.
PENDING = [
    """INSERT INTO ctl_pending_agg (start_key, end_key, audit_key, created_ts)
SELECT DISTINCT p.created_ts / 900 * 900, p.created_ts / 900 * 900 + 900, %(audit)s, %(now)s
FROM im_party p WHERE p.type IN (1, 4)""",
    f"""INSERT INTO ctl_pending_agg (start_key, end_key, audit_key, created_ts)
SELECT MIN(start_ts) / 900 * 900, MAX(start_ts) / 900 * 900 + %(max_state)s + 900, %(audit)s, %(now)s
FROM gidb_g_agent_state_history WHERE {_window('gidb_g_agent_state_history')} HAVING COUNT(*) > 0""",
    f"""INSERT INTO ctl_pending_agg (start_key, end_key, audit_key, created_ts)
SELECT MIN(login_ts) / 900 * 900, MAX(COALESCE(logout_ts, login_ts)) / 900 * 900 + 900, %(audit)s, %(now)s
FROM gidb_g_login_session WHERE {_window('gidb_g_login_session')} HAVING COUNT(*) > 0""",
]


def statements(d: sql.Dialect) -> dict[str, str]:
    return {
        "interaction_fact": _merge("interaction_fact", IF_COLUMNS, IF_SELECT, d),
        "interaction_resource_fact": _merge("interaction_resource_fact", IRF_COLUMNS, IRF_SELECT, d),
        "mediation_segment_fact": _merge("mediation_segment_fact", MSF_COLUMNS, MSF_SELECT, d),
        "sm_res_state_fact": _merge("sm_res_state_fact", STATE_COLUMNS,
                                    STATE_SELECT.format(least=d.least), d),
        "sm_res_session_fact": _merge("sm_res_session_fact", SESSION_COLUMNS, SESSION_SELECT, d),
    }


def _prepare_work_tables(d: sql.Dialect) -> None:
    for name, cols in WORK_TABLES.items():
        sql.execute(d.temp_table(name, cols))
    if not d.is_postgres:
        sql.execute("CREATE INDEX IF NOT EXISTS temp.im_agent_seg_parent ON im_agent_seg (parent_partyid)")
    else:
        sql.execute("CREATE INDEX IF NOT EXISTS im_agent_seg_parent ON im_agent_seg (parent_partyid)")


# Each event table's window (mark, hi] for the next chunk, aligned in time.
# The rows of one call sit in several tables; windows that end at the same
# GSYS_TS put them in the same chunk, so a call's facts are usually built
# once. The horizon T is the earliest of the tables' look-ahead horizons (the
# GSYS_TS of their size-th row past the mark); every table takes its rows up
# to T, and the table that set T takes all its rows, so each chunk progresses.
_AHEAD = "(SELECT gsys_useq, gsys_ts FROM {t} WHERE gsys_useq > %s ORDER BY gsys_useq LIMIT %s) x"


def _chunk_bounds(marks: dict[str, int], size: int) -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
    """The chunk's window of every event table, and how many rows each window holds."""
    ahead = {t: sql.rows(f"SELECT COUNT(*), MAX(gsys_ts), MAX(gsys_useq) FROM {_AHEAD.format(t=t)}",
                         [marks[t], size])[0] for t in EVENT_TABLES}
    full = [int(last_ts) for n, last_ts, _ in ahead.values() if n >= size]
    horizon = min(full) if full else None
    bounds, counts = {}, {}
    for t, (n, last_ts, last_useq) in ahead.items():
        if n and (horizon is None or last_ts <= horizon):
            hi, count = int(last_useq), int(n)  # every look-ahead row is in the window
        else:
            hi = sql.scalar(f"SELECT MAX(gsys_useq) FROM {_AHEAD.format(t=t)} WHERE gsys_ts <= %s",
                            [marks[t], size, horizon]) if n else None
            count = sql.scalar(f"SELECT COUNT(*) FROM {t} WHERE gsys_useq > %s AND gsys_useq <= %s",
                               [marks[t], hi]) if hi is not None else 0
        bounds[t] = (marks[t], int(hi) if hi is not None else marks[t])
        if count:
            counts[t] = int(count)
    return bounds, counts


class NeedPartitions(Exception):
    """The chunk's facts start on days that have no partition yet: make them, then redo the chunk."""

    def __init__(self, lo: int, hi: int):
        super().__init__(f"no partition for START_TS {lo}..{hi}")
        self.lo, self.hi = lo, hi


# Where the chunk's partitioned facts start: the touched calls (their interaction
# and all their parties, also those outside the chunk's windows) and its states.
FACT_STARTS = f"""SELECT MIN(x), MAX(x) FROM (
  SELECT created_ts AS x FROM im_call
  UNION ALL SELECT created_ts FROM im_party
  UNION ALL SELECT start_ts FROM gidb_g_agent_state_history WHERE {_window('gidb_g_agent_state_history')}) z"""


def _ensure_room(bounds: dict[str, tuple[int, int]], ctx: JobContext, max_state: int) -> None:
    """Calendars and partitions for the chunk, each in its own short transaction before it."""
    lo = hi = None
    for t, (a, b) in bounds.items():
        if b <= a:
            continue
        row = sql.rows(f"SELECT MIN({START_COLUMN[t]}), MAX(gsys_ts) FROM {t} WHERE gsys_useq > %s "
                       "AND gsys_useq <= %s", [a, b])[0]
        if row[0] is None:
            continue
        lo = row[0] if lo is None else min(lo, row[0])
        hi = row[1] if hi is None else max(hi, row[1])
    if lo is None or hi is None:
        return
    calendar.ensure("date_time", ctx.option("date-time", "date-time-tz").key, lo, hi + max_state)
    calendar.ensure("date_time_agg", ctx.option("schedule", "timezone").key, lo, hi + max_state)
    created = partitions.ensure(sql.interval_key(lo), hi)
    if created:
        ctx.log(f"created {len(created)} fact partitions: {', '.join(created[:4])}{' ...' if len(created) > 4 else ''}")


def _chunk(ctx: JobContext, d: sql.Dialect, merges: dict[str, str], bounds: dict[str, tuple[int, int]],
           marks: dict[str, int], consumed: dict[str, int], written: dict[str, int], max_state: int,
           active_age: int, analyzed: dict[str, int]) -> int:
    """One chunk, one transaction: facts of the touched calls and states, pending ranges, marks.

    `analyzed` holds the row count of each work table at its last ANALYZE in this run.
    """
    fresh: dict[str, int] = {}
    started = clock.now()
    now_ts = sql.epoch(started)
    with transaction.atomic():
        if any(control.transform_mark(t) != marks[t] for t in EVENT_TABLES):
            raise RuntimeError("another Job_TransformGIM moved the marks while this one ran")
        sql.etl_transaction()
        _prepare_work_tables(d)
        audit = control.new_audit(ctx, now=started)
        params: dict[str, Any] = {"audit": audit, "now": now_ts, "max_state": max_state,
                                  "active_cutoff": now_ts - active_age, "active_age": active_age}
        for t, (lo, hi) in bounds.items():
            params[f"{t}_lo"], params[f"{t}_hi"] = lo, hi
        for work in WORK_TABLES:
            sql.execute(d.clear(work))
        # Everything staged for the touched calls that the facts need, read into work tables.
        sizes = {work: sql.execute(statement, params) for work, statement in lookups(d).items()}
        sizes["im_agent_seg"] = sql.execute(AGENT_SEGMENTS, params)
        if d.is_postgres:
            # Temporary tables get no automatic statistics. Their column statistics outlive
            # TRUNCATE and the planner reads their current size, so ANALYZE (a 30,000-row
            # sample each) is only worth it when a table's size moved past 2x either way.
            for work, n in sizes.items():
                last = analyzed.get(work)
                if last is None or n > 2 * last or 2 * n < last:
                    sql.execute(f"ANALYZE {work}")
                    fresh[work] = n
            lo, hi = sql.rows(FACT_STARTS, params)[0]
            if lo is not None and partitions.missing(sql.interval_key(lo), hi):
                raise NeedPartitions(lo, hi)  # rolls the chunk back
        for fact, statement in merges.items():
            written[fact] += sql.execute(statement, params)
        for statement in PENDING:
            sql.execute(statement, params)
        keys = sql.rows("SELECT MIN(start_key), MAX(start_key) FROM ctl_pending_agg WHERE audit_key = %s",
                        [audit])[0]
        n = sum(consumed.values())
        sql.execute("UPDATE ctl_audit_log SET row_count = %s, min_start_date_time_key = %s, "
                    "max_start_date_time_key = %s WHERE audit_key = %s", [n, keys[0], keys[1], audit])
        for t, (lo, hi) in bounds.items():
            if hi > lo:
                _mark(ctx, t, hi, consumed[t], audit, started)
    analyzed.update(fresh)  # committed: a rolled-back ANALYZE left no statistics
    return n


def transform_events(ctx: JobContext, done: int, total: int) -> tuple[int, dict[str, int]]:
    d = sql.dialect()
    size = ctx.option("gim-etl", "extract-data-chunk-size") * TRANSFORM_CHUNK_FACTOR
    max_state = ctx.option("gim-etl", "max-state-duration")
    active_age = ctx.option("gim-etl", "days-to-keep-active-facts") * 86400
    merges = statements(d)
    written = dict.fromkeys(merges, 0)
    analyzed: dict[str, int] = {}
    chunks = 0
    while True:
        ctx.check_stop()  # safe point: every earlier chunk is committed with its marks
        marks = {t: control.transform_mark(t) for t in EVENT_TABLES}
        bounds, consumed = _chunk_bounds(marks, size)
        if not consumed:
            break
        _ensure_room(bounds, ctx, max_state)
        for attempt in range(3):
            try:
                n = _chunk(ctx, d, merges, bounds, marks, consumed, written, max_state, active_age, analyzed)
                break
            except NeedPartitions as need:
                # A touched call reaches past the days prepared for the chunk (a transfer
                # that ended later, say): create them outside the chunk's transaction, redo.
                if attempt == 2:
                    raise
                partitions.ensure(sql.interval_key(need.lo), need.hi)
        chunks += 1
        done += n
        ctx.progress(done, max(total, done), "staged rows transformed")
    if chunks:
        ctx.log(f"{chunks} chunks transformed: " + ", ".join(f"{k} {v}" for k, v in written.items() if v)
                + " rows written")
    return done, written


# --- 3. sweeps ------------------------------------------------------------------------


def sweep(ctx: JobContext) -> None:
    max_state = ctx.option("gim-etl", "max-state-duration")
    active_age = ctx.option("gim-etl", "days-to-keep-active-facts") * 86400
    started = clock.now()
    now_ts = sql.epoch(started)
    params = {"now": now_ts, "max_state": max_state, "active_age": active_age}
    with transaction.atomic():
        open_states = sql.rows("SELECT COUNT(*), MIN(start_ts), MAX(start_ts) FROM sm_res_state_fact "
                               "WHERE end_ts IS NULL AND start_ts <= %(now)s - %(max_state)s", params)[0]
        old_ixns = sql.scalar("SELECT COUNT(*) FROM interaction_fact WHERE end_ts IS NULL "
                              "AND start_ts < %(now)s - %(active_age)s", params)
        if not open_states[0] and not old_ixns:
            return
        audit = control.new_audit(ctx, row_count=open_states[0] + old_ixns, now=started)
        params["audit"] = audit
        if open_states[0]:
            sql.execute("INSERT INTO ctl_pending_agg (start_key, end_key, audit_key, created_ts) "
                        "VALUES (%s, %s, %s, %s)",
                        [sql.interval_key(open_states[1]), sql.interval_key(open_states[2] + max_state) + 900,
                         audit, now_ts])
            sql.execute(
                "UPDATE sm_res_state_fact SET end_ts = start_ts + %(max_state)s, "
                "end_date_time_key = (start_ts + %(max_state)s) / 900 * 900, total_duration = %(max_state)s, "
                "update_audit_key = %(audit)s WHERE end_ts IS NULL AND start_ts <= %(now)s - %(max_state)s", params)
        if old_ixns:
            sql.execute(
                f"UPDATE interaction_fact SET status = {IXN_TERMINATED_BY_AGE}, end_ts = start_ts + %(active_age)s, "
                "end_date_time_key = (start_ts + %(active_age)s) / 900 * 900, update_audit_key = %(audit)s "
                "WHERE end_ts IS NULL AND start_ts < %(now)s - %(active_age)s", params)
    ctx.log(f"closed {open_states[0]} agent states open longer than max-state-duration ({max_state} s) and "
            f"ended {old_ixns} interactions active longer than days-to-keep-active-facts")


def run(ctx: JobContext) -> None:
    analyzed = sql.analyze_if_stale(CONFIG_TABLES + EVENT_TABLES)
    if analyzed:
        ctx.log(f"refreshed planner statistics of {', '.join(analyzed)} (bulk-loaded since their last ANALYZE)")
    config_backlog = sum(control.count_past(t, control.transform_mark(t)) for t in CONFIG_TABLES)
    event_backlog = sum(control.count_past(t, control.transform_mark(t)) for t in EVENT_TABLES)
    total = config_backlog + event_backlog
    ctx.log(f"{total} staged rows to transform" if total else "nothing new in GIDB staging since the last run")
    ctx.progress(0, total, "staged rows transformed")
    ctx.check_stop()
    transform_config(ctx)
    done, _written = transform_events(ctx, config_backlog, total)
    ctx.check_stop()
    sweep(ctx)
    ctx.progress(done, max(total, done), "staged rows transformed")
