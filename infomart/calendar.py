"""Filling the DATE_TIME calendars: one row per 15-minute UTC interval.

Two tables share the structure (models.Calendar): DATE_TIME in the
[date-time] date-time-tz zone (Genesys's default calendar) and DATE_TIME_AGG
in the [schedule] timezone zone, on which the aggregate levels roll up ("a
day ends at local midnight"). Keys are UTC, so a zone change never moves a
fact; it only rewrites the calendar's local columns (and, for DATE_TIME_AGG,
means re-aggregating, which Job_AggregateGIM does by itself).

A calendar always covers a contiguous run of whole UTC days; `ensure` extends
it to cover a range, `top_up` fills it ahead as Job_MaintainGIM does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from gimmanager.formats import local_to_utc
from infomart import sql

DAY = 86400
TABLES = ("date_time", "date_time_agg")
COLUMNS = (
    "date_time_key", "calendar_tz", "utc_offset_minutes", "local_datetime", "cal_date", "cal_year_num",
    "cal_quarter_num", "cal_month_num", "cal_day_num", "cal_day_of_week_num", "cal_hour_num", "cal_minute_num",
    "label_yyyy", "label_yyyy_q", "label_yyyy_mm", "label_yyyy_mm_dd",
    "hour_key", "day_key", "month_key", "quarter_key", "year_key",
)


def zone(name: str) -> ZoneInfo:
    # The option parser accepts "GMT"; zoneinfo knows it too.
    return ZoneInfo(name)


def build_rows(tz_name: str, first_day_key: int, days: int) -> list[tuple[object, ...]]:
    """Calendar rows for `days` whole UTC days from first_day_key (a multiple of 86400)."""
    tz = zone(tz_name)
    starts: dict[tuple[str, object], int] = {}

    def local_start(kind: str, d: date) -> int:
        # UTC epoch of a local day/month/quarter/year start. A midnight that DST
        # skips (some zones switch at 00:00) maps to the first instant after the gap.
        key = (kind, d)
        if key not in starts:
            starts[key] = int(local_to_utc(d, time(0, 0), tz).timestamp())
        return starts[key]

    out: list[tuple[object, ...]] = []
    for k in range(first_day_key, first_day_key + days * DAY, 900):
        local = datetime.fromtimestamp(k, UTC).astimezone(tz)
        d = local.date()
        q = (local.month - 1) // 3 + 1
        # Local hour start: same wall hour, same fold, so the repeated hour of a
        # fall-back night keeps its two separate hours.
        hour_start = int(local.replace(minute=0, second=0, microsecond=0).timestamp())
        offset = local.utcoffset() or timedelta(0)
        out.append((
            k, tz_name, int(offset.total_seconds() // 60), f"{local:%Y-%m-%d %H:%M}", d, local.year, q,
            local.month, local.day, (local.isoweekday() % 7) + 1, local.hour, local.minute,
            f"{local.year:04d}", f"{local.year:04d}-Q{q}", f"{local:%Y-%m}", f"{d.isoformat()}",
            hour_start, local_start("day", d), local_start("month", d.replace(day=1)),
            local_start("quarter", date(d.year, 3 * (q - 1) + 1, 1)), local_start("year", date(d.year, 1, 1)),
        ))
    return out


def bounds(table: str) -> tuple[int | None, int | None, str | None]:
    """(first key, last key, zone) of a calendar; Nones when empty."""
    row = sql.rows(f"SELECT MIN(date_time_key), MAX(date_time_key) FROM {table}")[0]
    tz = sql.scalar(f"SELECT calendar_tz FROM {table} WHERE date_time_key = %s", [row[0]]) if row[0] else None
    return row[0], row[1], tz


def _insert(table: str, tz_name: str, first_day_key: int, days: int) -> int:
    if days <= 0:
        return 0
    rows = build_rows(tz_name, first_day_key, days)
    sql.bulk_insert(table, COLUMNS, rows)
    return len(rows)


def ensure(table: str, tz_name: str, lo_ts: int, hi_ts: int) -> int:
    """Make the calendar cover [lo_ts, hi_ts] in zone tz_name; rows added.

    A calendar in another zone is rebuilt over its whole range first. Call it
    inside the caller's transaction or alone (it is one transaction itself).
    """
    lo_day = lo_ts // DAY * DAY
    hi_day = hi_ts // DAY * DAY + DAY  # exclusive
    added = 0
    with transaction.atomic():
        first, last, tz = bounds(table)
        if first is not None and tz != tz_name:
            sql.execute(f"DELETE FROM {table}")
            lo_day, hi_day = min(lo_day, first), max(hi_day, last // DAY * DAY + DAY)
            first = last = None
        if first is None:
            return _insert(table, tz_name, lo_day, (hi_day - lo_day) // DAY)
        end = last // DAY * DAY + DAY
        if lo_day < first:
            added += _insert(table, tz_name, lo_day, (first - lo_day) // DAY)
        if hi_day > end:
            added += _insert(table, tz_name, end, (hi_day - end) // DAY)
    return added


def days_ahead(table: str, now_ts: int) -> float:
    """How many days the calendar reaches past now (negative when it ends before now)."""
    _first, last, _tz = bounds(table)
    return -1.0 if last is None else (last + 900 - now_ts) / DAY
