"""Aggregates computed the slow, obvious way: Python over the fact rows, local
intervals from zoneinfo. Independent of the calendar tables and the SQL that
the aggregation job runs, so the two can be compared."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection

from infomart import hierarchies

LEVELS = hierarchies.LEVELS


def level_start(ts: int, level: str, tz: ZoneInfo) -> int:
    """UTC epoch of the local start of the `level` interval containing ts."""
    if level == "SUBHOUR":
        return ts // 900 * 900
    local = datetime.fromtimestamp(ts, UTC).astimezone(tz)
    if level == "HOUR":
        return int(local.replace(minute=0, second=0, microsecond=0).timestamp())
    d = local.date()
    first = {"DAY": d, "MONTH": d.replace(day=1), "QUARTER": date(d.year, (d.month - 1) // 3 * 3 + 1, 1),
             "YEAR": date(d.year, 1, 1)}[level]
    return int(datetime.combine(first, time(0), tzinfo=tz).timestamp())


def fetch(query: str, params: Any = None) -> list[dict[str, Any]]:
    with connection.cursor() as cur:
        cur.execute(query, params)
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _add(out: dict[tuple[Any, ...], dict[str, int]], key: tuple[Any, ...], measures: dict[str, int],
         maxes: set[str]) -> None:
    row = out[key]
    for m, v in measures.items():
        row[m] = max(row.get(m, 0), v) if m in maxes else row.get(m, 0) + v


def _split(start: int, end: int) -> list[tuple[int, int]]:
    """(15-minute interval start, seconds of [start, end) inside it)."""
    out, k = [], start // 900 * 900
    while k < end:
        out.append((k, min(end, k + 900) - max(start, k)))
        k += 900
    return out


def h_queue(level: str, tz: ZoneInfo) -> dict[tuple[Any, ...], dict[str, int]]:
    out: dict[tuple[Any, ...], dict[str, int]] = defaultdict(dict)
    for m in fetch("SELECT * FROM mediation_segment_fact"):
        abandoned = m["technical_result"] == "ABANDONED"
        accepted = m["accepted"] == 1
        _add(out, (level_start(m["start_ts"], level, tz), m["resource_key"], m["media_type_key"]), {
            "entered": 1, "distributed": int(m["technical_result"] == "DIVERTED"), "accepted": int(accepted),
            "abandoned": int(abandoned),
            "accepted_in_threshold": int(accepted and m["accept_duration"] <= hierarchies.SERVICE_LEVEL_SECONDS),
            "wait_time": m["mediation_duration"] or 0, "accept_time": m["accept_duration"] if accepted else 0,
            "abandoned_wait_time": m["mediation_duration"] if abandoned else 0,
            "max_wait_time": m["mediation_duration"] or 0,
            "handle_time": m["target_handle_duration"] if accepted else 0}, {"max_wait_time"})
    return out


def h_queue_abn(level: str, tz: ZoneInfo) -> dict[tuple[Any, ...], dict[str, int]]:
    out: dict[tuple[Any, ...], dict[str, int]] = defaultdict(dict)
    for m in fetch("SELECT * FROM mediation_segment_fact WHERE technical_result = 'ABANDONED' AND is_last_entry = 1"):
        d = m["mediation_duration"]
        buckets = {}
        for lo, hi in hierarchies.ABANDON_BUCKETS:
            name = f"abn_{lo}_{hi}" if hi is not None else f"abn_{lo}_plus"
            buckets[name] = int((d > lo if lo else d >= 0) and (hi is None or d <= hi))
        _add(out, (level_start(m["start_ts"], level, tz), m["resource_key"], m["media_type_key"]),
             {"abandoned": 1, "abandoned_wait_time": d, **buckets}, set())
    return out


def _irf_measures(f: dict[str, Any]) -> dict[str, int]:
    return {"offered": 1, "accepted": f["accepted"], "ring_time": f["ring_duration"],
            "engage_time": f["talk_duration"], "hold_time": f["hold_duration"],
            "wrap_time": f["after_call_work_duration"],
            "handle_time": f["talk_duration"] + f["hold_duration"] + f["after_call_work_duration"]}


def h_agent(level: str, tz: ZoneInfo) -> dict[tuple[Any, ...], dict[str, int]]:
    out: dict[tuple[Any, ...], dict[str, int]] = defaultdict(dict)
    for f in fetch("SELECT * FROM interaction_resource_fact"):
        _add(out, (level_start(f["start_ts"], level, tz), f["resource_key"], f["media_type_key"]),
             _irf_measures(f), set())
    names = {1: "ready_time", 2: "not_ready_time", 3: "busy_time", 4: "acw_time"}
    for s in fetch("SELECT * FROM sm_res_state_fact WHERE end_ts IS NOT NULL"):
        for k, secs in _split(s["start_ts"], s["end_ts"]):
            _add(out, (level_start(k, level, tz), s["resource_key"], s["media_type_key"]),
                 {names[s["resource_state_key"]]: secs}, set())
    for s in fetch("SELECT * FROM sm_res_session_fact WHERE end_ts IS NOT NULL"):
        for k, secs in _split(s["start_ts"], s["end_ts"]):
            _add(out, (level_start(k, level, tz), s["resource_key"], s["media_type_key"]), {"login_time": secs},
                 set())
    return out


def h_agent_queue(level: str, tz: ZoneInfo) -> dict[tuple[Any, ...], dict[str, int]]:
    out: dict[tuple[Any, ...], dict[str, int]] = defaultdict(dict)
    for f in fetch("SELECT * FROM interaction_resource_fact WHERE queue_resource_key IS NOT NULL"):
        _add(out, (level_start(f["start_ts"], level, tz), f["resource_key"], f["queue_resource_key"],
                   f["media_type_key"]), _irf_measures(f), set())
    return out


EXPECTED = {"H_QUEUE": h_queue, "H_QUEUE_ABN": h_queue_abn, "H_AGENT": h_agent, "H_AGENT_QUEUE": h_agent_queue}


def actual(h: hierarchies.Hierarchy, level: str) -> dict[tuple[Any, ...], dict[str, int]]:
    """The AG2 view's rows, keyed like the expectations, without all-zero measures."""
    out = {}
    for r in fetch(f"SELECT * FROM {h.view_name(level)}"):
        key = (r["date_time_key"], *(r[d] for d in h.dim_names))
        out[key] = {m: int(r[m]) for m in h.measure_names}
    return out


Rows = dict[tuple[Any, ...], dict[str, int]]


def normalized(rows: Rows, h: hierarchies.Hierarchy) -> Rows:
    """Every measure present (0 when absent): aggregate rows carry all of them."""
    return {k: {m: int(v.get(m, 0)) for m in h.measure_names} for k, v in rows.items()}
