"""The job history query: filters, sorting and keyset paging.

Shared by the history page and the API. No page ever counts the whole table:
a page is at most one small indexed query per "sort group" (a group is the
set of rows with the same leading sort value, e.g. one job name when sorting
by Name), each `ORDER BY <time> DESC, id DESC LIMIT n+1` on one of JobRun's
indexes, so the first page costs the same with ten rows or ten million.

Indexes used (gimmanager/jobs/models.py):
- jobrun_recent        (-requested_at, -id): the default order, date ranges, text search
- jobrun_job_recent    (job, -requested_at, -id): job filter, sort by Name
- jobrun_status_recent (status, -requested_at, -id): status filter, sort by Status
- jobrun_started       (-started_at, -id): sort by Start Time

Sorting by Duration has no index (it is an expression); it sorts the filtered
rows in the database, which is fine when a filter narrows them and costs a
full scan at a million rows (see BENCHMARKS-console.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import DurationField, ExpressionWrapper, F, Q, QuerySet

from gimmanager.catalog import Job, Status
from gimmanager.jobs.models import JobRun

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Filters:
    job: str = ""
    status: str = ""
    text: str = ""
    date_from: date | None = None  # local dates of the [schedule] timezone, inclusive
    date_to: date | None = None

    def apply(self, qs: QuerySet[JobRun], tz: ZoneInfo) -> QuerySet[JobRun]:
        if self.job:
            qs = qs.filter(job=self.job)
        if self.status:
            qs = qs.filter(status=self.status)
        if self.date_from:
            qs = qs.filter(requested_at__gte=datetime.combine(self.date_from, time(), tzinfo=tz))
        if self.date_to:
            qs = qs.filter(requested_at__lt=datetime.combine(self.date_to + timedelta(days=1), time(), tzinfo=tz))
        if self.text:
            qs = qs.filter(text_query(self.text))
        return qs

    @property
    def active(self) -> bool:
        return bool(self.job or self.status or self.text or self.date_from or self.date_to)


def text_query(text: str) -> Q:
    """Free text: a run number (`123` or `#123`), or a piece of the job name,
    user, parameters, note or failure/stop reason."""
    t = text.strip()
    q = (Q(job__icontains=t) | Q(requested_by__icontains=t) | Q(params__icontains=t)
         | Q(note__icontains=t) | Q(end_reason__icontains=t))
    number = t.removeprefix("#")
    if number.isascii() and number.isdigit() and len(number) < 18:
        q |= Q(pk=int(number))
    return q


# --- sorting -------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """Rows sharing the leading sort value; scanned newest (or oldest) first."""

    q: Q
    time_field: str | None  # None: the group has no time value (not started yet): order by id
    flip: bool = False  # scan this group in the opposite time direction to the sort's


@dataclass(frozen=True)
class Sort:
    key: str  # as in the query string: "requested", "-job", ...
    label: str
    descending: bool  # direction of the time/id order inside each group
    groups: tuple[Group, ...]
    duration: bool = False


SORT_COLUMNS = {
    # column -> (label, leading group order)
    "job": "Name",
    "status": "Status",
    "duration": "Duration",
    "started": "Start Time",
    "requested": "Requested",
}
DEFAULT_SORT = "-requested"


def make_sort(key: str, filters: Filters) -> Sort:
    """The sort for a query-string key; unknown keys fall back to newest first."""
    desc = key.startswith("-")
    column = key.lstrip("-")
    if column not in SORT_COLUMNS:
        return make_sort(DEFAULT_SORT, filters)
    label = SORT_COLUMNS[column]
    if column == "job":
        names = [filters.job] if filters.job else sorted(j.value for j in Job)
        if desc:
            names.reverse()
        # Name order, newest first within a job: one query on jobrun_job_recent per job.
        return Sort(key, label, True, tuple(Group(Q(job=n), "requested_at") for n in names))
    if column == "status":
        names = [filters.status] if filters.status else sorted(s.value for s in Status)
        if desc:
            names.reverse()
        return Sort(key, label, True, tuple(Group(Q(status=n), "requested_at") for n in names))
    if column == "started":
        # Runs that have not started (SCHEDULED, or cancelled before starting) have no
        # start time; they come first when sorting newest first, as in the Manager.
        unstarted = Group(Q(started_at__isnull=True), None)
        started = Group(Q(started_at__isnull=False), "started_at")
        return Sort(key, label, desc, (unstarted, started) if desc else (started, unstarted))
    if column == "duration":
        # Finished runs by their duration; runs still going by how long they have run
        # (started earliest = longest so far); runs not started last (or first, ascending).
        finished = Group(Q(started_at__isnull=False, ended_at__isnull=False), "dur")
        going = Group(Q(started_at__isnull=False, ended_at__isnull=True), "started_at", flip=True)
        unstarted = Group(Q(started_at__isnull=True), None)
        groups = (going, finished, unstarted) if desc else (unstarted, finished, going)
        return Sort(key, label, desc, groups, duration=True)
    return Sort(key, label, desc, (Group(Q(), "requested_at"),))


# --- cursors ---------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Position between two rows: the group index, the time value (µs) and the id."""

    group: int
    value: int | None
    id: int

    def encode(self) -> str:
        return f"{self.group}.{'n' if self.value is None else self.value}.{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        try:
            g, v, i = text.split(".")
            return cls(int(g), None if v == "n" else int(v), int(i))
        except (ValueError, AttributeError):
            return None


def _value_of(row: Any, group: Group) -> int | None:
    if group.time_field is None:
        return None
    v = getattr(row, group.time_field)
    if v is None:
        return None
    if isinstance(v, timedelta):
        return (v.days * 86400 + v.seconds) * 1_000_000 + v.microseconds
    return int((v - _EPOCH) / timedelta(microseconds=1))


def _from_value(value: int, group: Group) -> Any:
    if group.time_field == "dur":
        return timedelta(microseconds=value)
    return _EPOCH + timedelta(microseconds=value)


def _keyset(group: Group, cursor: Cursor, descending: bool) -> Q:
    """Rows strictly after the cursor in (time, id) order.

    Written as `time <= v AND (time < v OR id < i)` rather than a bare OR so
    that the first condition is an index range: the scan starts at the cursor.
    """
    if group.time_field is None or cursor.value is None:
        return Q(pk__lt=cursor.id) if descending else Q(pk__gt=cursor.id)
    f = group.time_field
    v = _from_value(cursor.value, group)
    if descending:
        return Q(**{f"{f}__lte": v}) & (Q(**{f"{f}__lt": v}) | Q(pk__lt=cursor.id))
    return Q(**{f"{f}__gte": v}) & (Q(**{f"{f}__gt": v}) | Q(pk__gt=cursor.id))


def _ordered(qs: QuerySet[JobRun], group: Group, descending: bool) -> QuerySet[JobRun]:
    if group.time_field is None:
        return qs.order_by("-id" if descending else "id")
    d = "-" if descending else ""
    return qs.order_by(f"{d}{group.time_field}", f"{d}id")


@dataclass
class Page:
    rows: list[JobRun]
    next: str | None = None  # cursor for older rows (`after`)
    prev: str | None = None  # cursor for newer rows (`before`); None on the first page
    first: bool = True
    sort: Sort | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _scan(base: QuerySet[JobRun], sort: Sort, start: Cursor | None, limit: int, *,
          reverse: bool) -> list[tuple[int, Any]]:
    """Rows after `start` in sort order (or before it, if reverse), group by group."""
    out: list[tuple[int, Any]] = []
    order = list(range(len(sort.groups)))
    if reverse:
        order.reverse()
    for gi in order:
        if start is not None and (gi < start.group if not reverse else gi > start.group):
            continue
        group = sort.groups[gi]
        descending = (sort.descending != reverse) != group.flip
        qs = base.filter(group.q)
        if sort.duration:
            qs = qs.annotate(dur=ExpressionWrapper(F("ended_at") - F("started_at"), output_field=DurationField()))
        if start is not None and gi == start.group:
            qs = qs.filter(_keyset(group, start, descending))
        for row in _ordered(qs, group, descending)[: limit - len(out)]:
            out.append((gi, row))
        if len(out) >= limit:
            break
    return out


def page(base: QuerySet[JobRun], sort: Sort, *, after: str = "", before: str = "", size: int = PAGE_SIZE) -> Page:
    """One page of `base` in `sort` order, after or before a cursor (keyset paging)."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    cur_after = Cursor.decode(after) if after else None
    cur_before = Cursor.decode(before) if before else None
    if cur_before is not None and cur_before.group < len(sort.groups):
        got = _scan(base, sort, cur_before, size + 1, reverse=True)
        if len(got) > size:
            got = got[:size]
            got.reverse()
            return _make(got, sort, has_more=True, first=False)
        # Fewer than a page before the cursor: that is the first page.
        cur_after = None
    if cur_after is not None and cur_after.group >= len(sort.groups):
        cur_after = None
    got = _scan(base, sort, cur_after, size + 1, reverse=False)
    more = len(got) > size
    return _make(got[:size], sort, has_more=more, first=cur_after is None)


def _make(got: list[tuple[int, Any]], sort: Sort, *, has_more: bool, first: bool) -> Page:
    def cursor(gi: int, row: Any) -> str:
        return Cursor(gi, _value_of(row, sort.groups[gi]), row.pk).encode()

    rows = [row for _, row in got]
    p = Page(rows=rows, first=first, sort=sort)
    if got and has_more:
        p.next = cursor(*got[-1])
    if got and not first:
        p.prev = cursor(*got[0])
    return p


def history(filters: Filters, sort_key: str, tz: ZoneInfo, *, after: str = "", before: str = "",
            size: int = PAGE_SIZE) -> Page:
    sort = make_sort(sort_key, filters)
    base = filters.apply(JobRun.objects.all(), tz)
    return page(base, sort, after=after, before=before, size=size)


def estimated_total() -> int | None:
    """The planner's row estimate of the whole history (PostgreSQL): free, unlike COUNT(*)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cur:
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [JobRun._meta.db_table])
        row = cur.fetchone()
    return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None


def anything_active() -> bool:
    """Is any run RUNNING or SCHEDULED (drives the auto-refresh)? Uses jobrun_status_recent."""
    return JobRun.objects.filter(status__in=[Status.RUNNING, Status.SCHEDULED]).exists()


def filters_from(data: Mapping[str, Any]) -> Filters:
    """Filters from already-validated form data."""
    return Filters(job=data.get("job") or "", status=data.get("status") or "", text=(data.get("q") or "").strip(),
                   date_from=data.get("date_from"), date_to=data.get("date_to"))
