"""Parsers for the value formats of Genesys Info Mart options.

Pure functions (no Django): each returns the parsed value or raises
ValueError with a message that states the expected form. Validators, the INI
importer, the API and the scheduling engine all use these same functions.
"""

from __future__ import annotations

import codecs
import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from croniter import croniter
from croniter.croniter import CroniterError

_HHMM = re.compile(r"^(\d{2}):(\d{2})$", re.ASCII)  # ASCII: \d would accept other scripts' digits
_DURATION = re.compile(r"^(\d{1,2}):(\d{2})$", re.ASCII)
_CRON_FIELD = re.compile(r"^[0-9*,/\-]+$")


def parse_bool(value: str) -> bool:
    v = value.strip().lower()
    if v == "true":
        return True
    if v == "false":
        return False
    raise ValueError("expected true or false")


def parse_hhmm(value: str) -> time:
    """A time of day, 24-hour HH:mm (HH 00-23, mm 00-59)."""
    m = _HHMM.match(value.strip())
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise ValueError("expected a time of day as HH:mm, HH 00-23 and mm 00-59 (for example 06:30)")
    return time(int(m[1]), int(m[2]))


def parse_duration(value: str) -> timedelta:
    """A length of time as HH:mm from 00:00 to 24:00 (aggregate-duration)."""
    m = _DURATION.match(value.strip())
    if not m:
        raise ValueError("expected a duration as HH:mm from 00:00 to 24:00 (for example 23:00)")
    hours, minutes = int(m[1]), int(m[2])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError("expected a duration as HH:mm from 00:00 to 24:00 (for example 23:00)")
    return timedelta(hours=hours, minutes=minutes)


def parse_positive_int(value: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    v = value.strip()
    if not re.fullmatch(r"[0-9]+", v):
        raise ValueError(_int_range_text(minimum, maximum))
    n = int(v)
    if n < minimum or (maximum is not None and n > maximum):
        raise ValueError(_int_range_text(minimum, maximum))
    return n


def _int_range_text(minimum: int, maximum: int | None) -> str:
    if maximum is None:
        return f"expected a whole number of at least {minimum}"
    return f"expected a whole number from {minimum} to {maximum}"


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def parse_timezone(value: str) -> zoneinfo.ZoneInfo:
    """An IANA time-zone ID such as GMT, UTC or America/New_York."""
    v = value.strip()
    if v not in _zone_names():
        raise ValueError("expected an IANA time-zone ID such as GMT, Europe/Berlin or America/New_York")
    return zoneinfo.ZoneInfo(v)


def parse_encoding(value: str) -> str:
    v = value.strip()
    try:
        codecs.lookup(v)
    except LookupError:
        raise ValueError("expected a character encoding name such as utf8 or latin1") from None
    return v


def parse_path(value: str) -> str:
    v = value.strip()
    if not v or "\x00" in v or len(v) > 1024:
        raise ValueError("expected a directory path (absolute, or relative to the GIM Manager directory)")
    return v


def parse_start_date(value: str) -> datetime | None:
    """`start-date` of [gim-export]: empty, or yyyy-mm-dd hh:mm:ss after 1970 (UTC)."""
    v = value.strip()
    if not v:
        return None
    try:
        parsed = datetime.strptime(v, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ValueError("expected empty or a date as yyyy-mm-dd hh:mm:ss after 1970") from None
    if parsed.year < 1970:
        raise ValueError("expected empty or a date as yyyy-mm-dd hh:mm:ss after 1970")
    return parsed


def parse_text(value: str) -> str:
    if "\x00" in value or len(value) > 255:
        raise ValueError("expected text of at most 255 characters")
    return value.strip()


@dataclass(frozen=True)
class CronSpec:
    """A Genesys two-field CRON expression: `minute hour`, repeating every day.

    `,` lists, `-` ranges, `*` every value, `/` steps (`0/10` = 0, 10, ..., 50).
    """

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]

    def times_of_day(self) -> list[time]:
        return [time(h, m) for h in self.hours for m in self.minutes]


_CRON_HELP = (
    "expected a CRON expression of two fields, minute and hour, separated by a space, "
    "using digits and , - * / (for example 0/10 * or 30 2)"
)


@lru_cache(maxsize=256)
def parse_cron(value: str) -> CronSpec:
    fields = value.split()
    if len(fields) != 2 or not all(_CRON_FIELD.match(f) for f in fields):
        raise ValueError(_CRON_HELP)
    # croniter wraps reversed ranges (5-1) around the field; Genesys does not.
    for a, b in re.findall(r"([0-9]+)-([0-9]+)", value):
        if int(a) > int(b):
            raise ValueError(_CRON_HELP + f"; the range {a}-{b} runs backwards")
    try:
        # croniter does the field grammar; the day/month/weekday fields are fixed
        # to `*` because the Genesys dialect repeats the same times every day.
        expanded = croniter.expand(f"{fields[0]} {fields[1]} * * *")[0]
    except (CroniterError, ValueError, IndexError):
        raise ValueError(_CRON_HELP) from None
    minutes = tuple(range(60)) if expanded[0] == ["*"] else tuple(sorted(int(x) for x in expanded[0]))
    hours = tuple(range(24)) if expanded[1] == ["*"] else tuple(sorted(int(x) for x in expanded[1]))
    return CronSpec(text=" ".join(fields), minutes=minutes, hours=hours)


def local_to_utc(day: date, tod: time, tz: zoneinfo.ZoneInfo) -> datetime:
    """The instant at which wall-clock `tod` on `day` happens in `tz` (as aware UTC).

    DST rules (scheduler rule 13): a wall time that occurs twice maps to its
    first occurrence (fold=0); a wall time that does not exist (spring-forward
    gap) maps to the first instant after the gap.
    """
    from datetime import UTC

    local = datetime.combine(day, tod, tzinfo=tz)
    utc = local.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None):
        return utc
    # In a gap: walk the wall clock forward a minute at a time until it exists.
    # Gaps are at most a few hours, and real ones end on whole minutes.
    probe = local.replace(tzinfo=None)
    for _ in range(24 * 60):
        probe += timedelta(minutes=1)
        candidate = probe.replace(tzinfo=tz)
        back = candidate.astimezone(UTC)
        if back.astimezone(tz).replace(tzinfo=None) == probe:
            return back
    raise ValueError(f"no valid local time after {local!r}")  # pragma: no cover
