"""Today's schedule as an SVG timeline, like the seed's "Sample Genesys Info Mart
Server Schedule" figure: a row per job with the ETL window, the aggregation
windows, maintenance and the statistics and export ticks, drawn from
scheduler.simulator (the same engine as the live scheduler) for the given
options, with what actually ran laid over it and a marker for now.

Times: the day is the local day of the [schedule] timezone, from local
midnight to the next (23 or 25 hours on DST days); everything is placed on
the x axis by elapsed time, and the hour labels are local wall-clock hours.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gimmanager.catalog import Job, Status
from gimmanager.options import ScheduleOptions, Values, check_configuration

ROWS = (Job.EXTRACT, Job.TRANSFORM, Job.AGGREGATE, Job.MAINTAIN, Job.UPDATE_STATS, Job.EXPORT)
WARMUP = timedelta(hours=12)  # simulated before midnight, so the day starts in a steady state

# SVG geometry (user units; the SVG scales to the page width).
WIDTH, LABEL, RIGHT, TOP, ROW, AXIS = 1200, 150, 12, 26, 40, 22
PLOT = WIDTH - LABEL - RIGHT


def simulator_available() -> bool:
    try:
        from scheduler import simulator  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Item:
    x: float
    w: float = 0.0
    cls: str = ""
    title: str = ""
    href: str = ""


@dataclass
class Row:
    job: str
    y: float
    alt: bool
    windows: list[Item] = field(default_factory=list)
    plan: list[Item] = field(default_factory=list)
    ticks: list[Item] = field(default_factory=list)
    ran: list[Item] = field(default_factory=list)
    marks: list[Item] = field(default_factory=list)
    planned_count: int = 0
    ran_count: int = 0


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight, as UTC instants."""
    from gimmanager.formats import local_to_utc

    return local_to_utc(day, time(0), tz), local_to_utc(day + timedelta(days=1), time(0), tz)


class Scale:
    def __init__(self, start: datetime, end: datetime):
        self.start, self.end = start, end
        self.span = (end - start).total_seconds()

    def x(self, t: datetime) -> float:
        f = (min(max(t, self.start), self.end) - self.start).total_seconds() / self.span
        return round(LABEL + PLOT * f, 1)

    def width(self, a: datetime, b: datetime) -> float:
        return round(max(0.0, self.x(b) - self.x(a)), 1)


def assumed_durations(now: datetime) -> dict[Job, float]:
    """Minutes per job for the simulation: the median of its last 20 COMPLETE runs
    (jobrun_job_recent index), else the simulator's defaults."""
    from gimmanager.jobs.models import JobRun
    from scheduler.simulator import DEFAULT_DURATIONS

    out = dict(DEFAULT_DURATIONS)
    for job in DEFAULT_DURATIONS:
        spans = [(r.ended_at - r.started_at).total_seconds() / 60
                 for r in JobRun.objects.filter(job=job, status=Status.COMPLETE)
                 .only("started_at", "ended_at")[:20] if r.started_at and r.ended_at]
        if len(spans) >= 3:
            out[job] = max(0.1, round(statistics.median(spans), 1))
    return out


def build(opts: ScheduleOptions, day: date, now: datetime, *, durations: dict[Job, float] | None = None,
          config_errors: tuple[str, ...] = (), actual: list[Any] | None = None) -> dict[str, Any]:
    """Everything the template needs to draw the day."""
    from scheduler import windows
    from scheduler.simulator import simulate

    tz = opts.tz
    start, end = day_bounds(day, tz)
    scale = Scale(start, end)
    notes = []
    sim_opts = opts
    if not opts.run_scheduler:
        # Rule 11 would draw an empty day; show the day the options describe instead.
        sim_opts = replace(opts, run_scheduler=True)
        notes.append("run-scheduler is false, so the scheduler starts nothing today; the plan below is the day "
                     "these options describe once run-scheduler is true.")
    events = simulate(sim_opts, start - WARMUP, end, durations=durations, config_errors=config_errors)
    rows = {job: Row(job.value, TOP + i * ROW, bool(i % 2)) for i, job in enumerate(ROWS)}

    # Windows behind the runs: ETL window (rule 3), aggregation windows (rule 8), maintain-start-time.
    for d in (day - timedelta(days=1), day):
        lo, hi = windows.etl_window(opts, d)
        if hi > start and lo < end:
            for job in (Job.EXTRACT, Job.TRANSFORM):
                rows[job].windows.append(Item(scale.x(lo), scale.width(lo, hi), "tl-window",
                                              f"ETL window {lo.astimezone(tz):%H:%M}-{hi.astimezone(tz):%H:%M}"))
    if opts.run_aggregates:
        for lo, hi in windows.aggregation_windows(opts, start, end):
            rows[Job.AGGREGATE].windows.append(Item(scale.x(lo), scale.width(lo, hi), "tl-aggwin",
                                                    f"aggregation window {lo.astimezone(tz):%H:%M}-"
                                                    f"{hi.astimezone(tz):%H:%M}"))
    if opts.run_maintain:
        from gimmanager.formats import local_to_utc

        at = local_to_utc(day, opts.maintain_start_time, tz)
        rows[Job.MAINTAIN].marks.append(Item(scale.x(at), 0, "tl-maint",
                                             f"maintain-start-time {opts.maintain_start_time:%H:%M}"))

    # The simulated runs: pair each start with its end (one instance per job at a time, rule 1).
    opened: dict[Job, Any] = {}
    skipped: list[Any] = []

    def close(job: Job, a: datetime, b: datetime, how: str, why: str) -> None:
        if b <= start or a >= end or job not in rows:
            return
        row = rows[job]
        row.planned_count += a >= start
        title = f"{job.value} {a.astimezone(tz):%H:%M}-{b.astimezone(tz):%H:%M} ({how})" + (f": {why}" if why else "")
        w = scale.width(a, b)
        if w < 2.5:
            row.ticks.append(Item(scale.x(a), 0, "tl-tick", title))
        else:
            row.plan.append(Item(scale.x(a), w, "tl-plan", title))

    for ev in events:
        t = ev.time.astimezone(UTC)
        if ev.event == "started":
            opened[ev.job] = ev
        elif ev.event in ("completed", "failed", "stopped") and ev.job in opened:
            began = opened.pop(ev.job)
            close(ev.job, began.time.astimezone(UTC), t, ev.event, began.reason or "")
        elif ev.event in ("skipped", "refused") and start <= t < end:
            skipped.append(ev)
            if ev.job in rows:
                rows[ev.job].marks.append(Item(scale.x(t), 0, "tl-skip", f"{ev.event} at {ev.time:%H:%M}: {ev.reason}"))
    for job, began in opened.items():
        close(job, began.time.astimezone(UTC), end, "runs on", began.reason or "")

    # What actually ran today, under the plan.
    for run in actual or ():
        if run.job not in {j.value for j in rows} or run.started_at is None:
            continue
        a, b = run.started_at, run.ended_at or now
        if b < start or a >= end:
            continue
        row = rows[Job(run.job)]
        row.ran_count += 1
        status = "running" if run.status == Status.RUNNING else run.status.lower()
        title = (f"run {run.pk}: {a.astimezone(tz):%H:%M:%S}-{b.astimezone(tz):%H:%M:%S} {run.status} "
                 f"({'scheduler' if run.by == 'scheduler' else run.requested_by})")
        row.ran.append(Item(scale.x(a), max(1.5, scale.width(a, b)), f"tl-run {status}", title, f"/runs/{run.pk}/"))

    hours = []
    t = start
    k = 0
    while t <= end:
        local = t.astimezone(tz)
        hours.append({"x": scale.x(t), "label": f"{local:%H}", "major": k % 3 == 0})
        t += timedelta(hours=1)
        k += 1
    height = TOP + ROW * len(ROWS) + AXIS
    return {
        "rows": list(rows.values()), "hours": hours, "width": WIDTH, "height": height, "label_x": 8,
        "plot_left": LABEL, "plot_right": WIDTH - RIGHT, "axis_y": TOP + ROW * len(ROWS), "top": TOP,
        "now_x": scale.x(now) if start <= now < end else None, "now_label": f"now {now.astimezone(tz):%H:%M}",
        "day": day, "zone": f"{start.astimezone(tz):%Z}", "length": (end - start).total_seconds() / 3600,
        "notes": notes, "skipped": skipped[:50], "durations": durations or {},
        "cycles": rows[Job.EXTRACT].planned_count,
    }


def today(values: Values, now: datetime, *, with_actual: bool) -> dict[str, Any]:
    """The day of `now` for these option values (saved ones, or a form's unsaved ones)."""
    try:
        opts = ScheduleOptions.from_values(values)
    except ValueError as exc:
        return {"error": f"The schedule cannot be drawn: {exc}"}
    errors = tuple(str(p) for p in check_configuration(values) if p.level == "error")
    day = now.astimezone(opts.tz).date()
    actual = None
    if with_actual:
        from gimmanager.jobs.models import JobRun

        start, end = day_bounds(day, opts.tz)
        # jobrun_started index; runs that started the day before and still overlap are included.
        actual = list(JobRun.objects.filter(started_at__lt=end, started_at__gte=start - timedelta(days=1))
                      .exclude(ended_at__lt=start).order_by("-started_at", "-id")[:3000])
    try:
        drawing = build(opts, day, now, durations=assumed_durations(now), config_errors=errors, actual=actual)
    except Exception as exc:  # the simulator is another team's module: never break the page
        return {"error": f"The scheduler's simulator failed: {type(exc).__name__}: {exc}"}
    drawing["config_errors"] = errors
    drawing["opts"] = opts
    return drawing


def preview(values: Values, now: datetime) -> dict[str, Any]:
    return today(values, now, with_actual=False)
