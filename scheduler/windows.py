"""Wall-clock windows of the [schedule] options, as UTC instants.

Pure helpers shared by the engine, the simulator and the job-control service.
Every function converts local wall times of `opts.timezone` to aware UTC with
formats.local_to_utc (which carries the DST rules) and does arithmetic in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from gimmanager.formats import CronSpec, local_to_utc
from gimmanager.options import ScheduleOptions


def local_date(opts: ScheduleOptions, instant: datetime) -> date:
    """The reporting day of `instant`: local midnight of the timezone option ends a day."""
    return instant.astimezone(opts.tz).date()


def etl_window(opts: ScheduleOptions, day: date) -> tuple[datetime, datetime]:
    """The ETL window that opens on local `day`: [first cycle start, last cycle start].

    An etl-end-time at or before etl-start-time is on the next day (18:00-06:00
    means 6 PM to 6 AM next morning); equal times make a 24-hour window.
    """
    opens = local_to_utc(day, opts.etl_start_time, opts.tz)
    end_day = day if opts.etl_end_time > opts.etl_start_time else day + timedelta(days=1)
    closes = local_to_utc(end_day, opts.etl_end_time, opts.tz)
    return opens, closes


def etl_window_at(opts: ScheduleOptions, now: datetime) -> tuple[datetime, datetime] | None:
    """The ETL window containing `now` (both ends inclusive), if any."""
    today = local_date(opts, now)
    for day in (today - timedelta(days=1), today):
        opens, closes = etl_window(opts, day)
        if opens <= now <= closes:
            return opens, closes
    return None


def next_etl_window_open(opts: ScheduleOptions, after: datetime) -> datetime:
    """The first ETL window opening strictly after `after`."""
    day = local_date(opts, after) - timedelta(days=1)
    while True:
        opens, _ = etl_window(opts, day)
        if opens > after:
            return opens
        day += timedelta(days=1)


def cron_fire_times(cron: CronSpec, opts: ScheduleOptions, start: datetime, end: datetime) -> Iterator[datetime]:
    """Fire instants of a two-field CRON in (start, end], in order, each instant once.

    Two wall times that DST maps to one instant (a gap time and the first time
    after the gap) fire once.
    """
    day = local_date(opts, start) - timedelta(days=1)
    last_day = local_date(opts, end) + timedelta(days=1)
    last: datetime | None = None
    while day <= last_day:
        for tod in cron.times_of_day():
            t = local_to_utc(day, tod, opts.tz)
            if start < t <= end and t != last:
                last = t
                yield t
        day += timedelta(days=1)


def aggregation_windows(opts: ScheduleOptions, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Merged aggregation windows [open, close) that overlap [start, end].

    Each fire time of aggregate-schedule opens a window that lasts
    aggregate-duration on the wall clock: the seed's sample (04:00 for 23:00)
    leaves the 03:00-04:00 gap for maintenance every local day, DST days
    included, where elapsed time would close the gap on a 23-hour day.
    Overlapping or touching windows merge into one.
    """
    dur = opts.aggregate_duration
    if dur <= timedelta(0):
        return []
    tz = opts.tz
    raw: set[tuple[datetime, datetime]] = set()
    day = local_date(opts, start) - timedelta(days=2)
    last_day = local_date(opts, end)
    while day <= last_day:
        for tod in opts.aggregate_schedule.times_of_day():
            opens = local_to_utc(day, tod, tz)
            wall_end = datetime.combine(day, tod) + dur
            raw.add((opens, local_to_utc(wall_end.date(), wall_end.time(), tz)))
        day += timedelta(days=1)
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(raw):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return [(lo, hi) for lo, hi in merged if hi > start and lo <= end]


def aggregation_window_at(opts: ScheduleOptions, now: datetime) -> tuple[datetime, datetime] | None:
    """The aggregation window containing `now` (open <= now < close), if any."""
    for lo, hi in aggregation_windows(opts, now, now):
        if lo <= now < hi:
            return lo, hi
    return None


def utc(s: str) -> datetime:
    """Parse an ISO instant to aware UTC (helper for callers holding strings)."""
    return datetime.fromisoformat(s).astimezone(UTC)
