"""Small template helpers: local times with their zone, durations, query strings."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import template
from django.http import QueryDict

register = template.Library()


@register.filter
def inzone(value: datetime | None, tz: ZoneInfo | None) -> str:
    """`2026-07-21 14:03:05 CEST`: the time in the [schedule] timezone, with its abbreviation."""
    if not isinstance(value, datetime):
        return ""
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z") if tz else value.isoformat()


@register.filter
def hhmm(value: datetime | None, tz: ZoneInfo | None) -> str:
    if not isinstance(value, datetime):
        return ""
    return value.astimezone(tz).strftime("%H:%M")


@register.filter
def hms(value: timedelta | None) -> str:
    """A duration as H:MM:SS (days shown as hours), or an empty string."""
    if not isinstance(value, timedelta):
        return ""
    total = max(0, int(value.total_seconds()))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


@register.filter
def seconds(value: timedelta | None) -> int:
    return int(value.total_seconds()) if value is not None else 0


@register.simple_tag
def duration_of(run: Any, now: datetime) -> str:
    return hms(run.duration(now))


@register.simple_tag
def query(params: QueryDict | dict[str, Any], **changes: Any) -> str:
    """The current query string with some keys replaced (None or "" removes them).

    `{% query request.GET sort="-job" after=None %}` keeps the filter while
    changing the order and going back to the first page.
    """
    if isinstance(params, QueryDict):
        items = {k: params.getlist(k) for k in params}
    else:
        items = {k: [v] for k, v in params.items()}
    for key, value in changes.items():
        if value is None or value == "":
            items.pop(key, None)
        else:
            items[key] = [str(value)]
    pairs = [(k, v) for k, vs in items.items() for v in vs if v != ""]
    return "?" + urlencode(pairs) if pairs else "?"


@register.filter
def get(mapping: Any, key: Any) -> Any:
    try:
        return mapping[key]
    except (KeyError, IndexError, TypeError):
        return None
