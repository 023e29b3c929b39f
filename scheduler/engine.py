"""The scheduling engine: every Scheduler rule of issue 3 as one pure function.

    decisions = decide(opts, now, state, config_errors, job_errors)
    memory = advance(state.memory, decisions, now)

`decide` reads the [schedule] options, the instant `now`, a snapshot of the job
runs and the scheduler's memory, and returns what to do now. It does no I/O,
reads no clock and imports no Django or Celery. The live beat adapter, the
simulator and the "Why didn't it run?" page all drive this same function.

Rules (numbered as in the issue; tests and comments cite them):
 1. No job starts while another instance of the same job runs.
 2. ETL cycle = Job_ExtractICON, then Job_TransformGIM when the extraction
    completes; a failed extraction ends the cycle (recorded); the next cycle
    keeps its time.
 3. Cycles start only inside [etl-start-time, etl-end-time] (local; may span
    midnight; the end is the latest instant a cycle may begin).
 4. First cycle of a window at etl-start-time (or at once when the scheduler
    starts or resumes inside it); each next one at the later of previous start
    + etl-frequency and previous end.
 5. Daily maintenance from maintain-start-time, as soon as no ETL job,
    aggregation or export runs; meanwhile no aggregation or export starts;
    skipped (recorded) if it cannot start before the next ETL window opens.
 6. A due ETL cycle stops a scheduler-started Job_MaintainGIM and starts.
 7. While a scheduler-started Job_MaintainGIM runs, Job_UpdateStats ticks are
    skipped and no other job starts (except rule 6's cycle).
 8. Job_AggregateGIM runs continuously inside each aggregation window and is
    stopped when the window ends.
 9. Job_UpdateStats at each update-stats-schedule fire time unless running.
10. Job_ExportGIM at each export-schedule fire time unless running, never
    together with Job_MaintainGIM.
11. run-scheduler false: no launch, running jobs go on; the run-* switches
    switch their own job.
12. Option changes apply at the next tick; configuration-check errors refuse
    every launch, with the reason; an error that concerns one job only (an
    unwritable export output-directory) refuses that job's launches only.
13. DST: a non-existent local time fires at the first instant after the gap;
    a repeated one fires once; maintenance at most once per local day.

Time: instants are aware datetimes and arithmetic is done on them (elapsed
time); wall-clock rules are evaluated by converting to the option zone through
scheduler.windows / formats.local_to_utc, which carry the DST rules.

Memory (scheduler.state.SchedulerMemory) holds what the job runs cannot tell:
the last tick (cron coalescing), the current ETL cycle, the handled
maintenance day. Only `advance` changes it.

Adapter contract (live beat, simulator):
- build SchedulerState(jobs=JobsState(running, scheduled, last_finished), memory);
- START: create a RUNNING run with by="scheduler" and started_at = the `now`
  given to decide (the cycle's extraction is recognised by that), parent =
  cycle_parent_id; STOP: ask run_id to stop; record every non-START decision
  (reasons stay the same while their cause lasts, so repeats can be folded);
- persist advance(memory, decisions, now) with the effects, in one transaction;
- call again by next_wakeup(opts, now, state), and whenever a run ends.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from gimmanager.catalog import Job, Status
from gimmanager.formats import CronSpec, local_to_utc
from gimmanager.options import ScheduleOptions
from scheduler import windows
from scheduler.state import CycleStage, JobsState, RunInfo, SchedulerMemory, SchedulerState

__all__ = [
    "Action", "Decision", "SCHEDULER", "advance", "bootstrap_memory", "decide", "next_wakeup",
]

SCHEDULER = "scheduler"  # RunInfo.by of runs the scheduler started
_EPS = timedelta(microseconds=1)
_DAY = timedelta(days=1)


class Action(StrEnum):
    START = "start"
    STOP = "stop"
    SKIP = "skip"  # a due run that will not happen (tick consumed, cycle ended, day's maintenance skipped)
    WAIT = "wait"  # due, but held back for now; decided again at the next tick
    REFUSE = "refuse"  # due, but the configuration check failed (rule 12)


@dataclass(frozen=True)
class Decision:
    """One thing the scheduler does (or does not do) now, and why.

    Fields the adapter uses besides action/job/rule/reason:
    - run_id: STOP: the run to stop.
    - cycle_parent_id: Job_TransformGIM decisions: the completed Job_ExtractICON
      run of the cycle (store it as the transform run's parent).
    - fire_time: Job_UpdateStats / Job_ExportGIM: the cron fire time this
      decision consumes (START, SKIP or REFUSE).
    - maintenance_day: Job_MaintainGIM: the local day whose maintenance this
      START or SKIP settles (WAIT/REFUSE carry it too, without settling it).
    """

    action: Action
    job: Job
    rule: int
    reason: str
    run_id: int | None = None
    cycle_parent_id: int | None = None
    fire_time: datetime | None = None
    maintenance_day: date | None = None


# --- cached wall-clock helpers --------------------------------------------------
# The engine is called every second by the beat and tens of thousands of times
# by the simulator; the same local days are converted again and again. These
# memoize pure results keyed by the few option values they depend on.

_CACHE: dict[tuple[Any, ...], Any] = {}


def _memo(key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    try:
        return _CACHE[key]
    except KeyError:
        if len(_CACHE) > 50_000:
            _CACHE.clear()
        value = _CACHE[key] = compute()
        return value


def _tz(opts: ScheduleOptions) -> ZoneInfo:
    return ZoneInfo(opts.timezone)


def _local_day(opts: ScheduleOptions, instant: datetime) -> date:
    # The option zone is used only to read the wall clock (STYLE habit 10).
    return instant.astimezone(ZoneInfo(opts.timezone)).date()


def _etl_window(opts: ScheduleOptions, day: date) -> tuple[datetime, datetime]:
    key = ("etl", opts.timezone, opts.etl_start_time, opts.etl_end_time, day)
    return _memo(key, lambda: windows.etl_window(opts, day))  # type: ignore[no-any-return]


def _etl_window_at(opts: ScheduleOptions, now: datetime,
                   today: date | None = None) -> tuple[datetime, datetime] | None:
    """The ETL window containing `now` (both ends inclusive), the latest-opened one
    first: with etl-start-time == etl-end-time windows touch, and at the shared
    instant the new window's first cycle is due (rule 4)."""
    today = today or _local_day(opts, now)
    for day in (today, today - _DAY):
        opens, closes = _etl_window(opts, day)
        if opens <= now <= closes:
            return opens, closes
    return None


def _next_etl_open(opts: ScheduleOptions, after: datetime) -> datetime:
    """First ETL window opening strictly after `after`."""
    day = _local_day(opts, after) - _DAY
    while True:
        opens, _ = _etl_window(opts, day)
        if opens > after:
            return opens
        day += _DAY


def _maintain_at(opts: ScheduleOptions, day: date) -> datetime:
    # Rule 13: local_to_utc moves a time in the spring-forward gap to the first
    # instant after it and takes the first of a repeated fall-back time.
    key = ("maint", opts.timezone, opts.maintain_start_time, day)
    return _memo(key, lambda: local_to_utc(day, opts.maintain_start_time, _tz(opts)))  # type: ignore[no-any-return]


def _maintenance_slot(opts: ScheduleOptions, now: datetime, today: date | None = None) -> tuple[date, datetime]:
    """The local day whose maintain-start-time is the latest at or before `now`."""
    today = today or _local_day(opts, now)
    for day in (today, today - _DAY, today - 2 * _DAY):
        at = _maintain_at(opts, day)
        if at <= now:
            return day, at
    raise AssertionError("unreachable: a maintain-start-time two days back is in the past")


def _fires_on(opts: ScheduleOptions, cron: CronSpec, day: date) -> tuple[datetime, ...]:
    """Fire instants of a two-field CRON for one local day, sorted, each instant once.

    Rule 13: a wall time in the gap fires at the first instant after it (which
    may coincide with a real fire time: once); a repeated wall time fires once.
    """
    def compute() -> tuple[datetime, ...]:
        tz = _tz(opts)
        return tuple(sorted({local_to_utc(day, tod, tz) for tod in cron.times_of_day()}))

    return _memo(("fires", opts.timezone, cron, day), compute)  # type: ignore[no-any-return]


def _due_fires(opts: ScheduleOptions, cron: CronSpec, since: datetime | None,
               now: datetime) -> tuple[datetime | None, int | None]:
    """The latest fire time in (since, now] and how many there were (None: many days).

    A fresh memory (since None) only sees a fire time exactly at `now`.
    """
    lo = since if since is not None else now - _EPS
    if lo >= now:
        return None, 0
    first, last = _local_day(opts, lo) - _DAY, _local_day(opts, now)
    count: int | None = 0
    if (last - first).days > 3:
        # A long outage: only the latest fire time matters (one run at most).
        first, count = last - _DAY, None
    latest: datetime | None = None
    day = first
    while day <= last:
        fires = _fires_on(opts, cron, day)
        # fires[i:j] are the fire times of this day in (lo, now].
        i, j = bisect_right(fires, lo), bisect_right(fires, now)
        for t in fires[i:j]:
            if t != latest:
                latest = t
                if count is not None:
                    count += 1
        day += _DAY
    return latest, count


def _next_fire(opts: ScheduleOptions, cron: CronSpec, after: datetime) -> datetime | None:
    day = _local_day(opts, after)
    for d in (day, day + _DAY, day + 2 * _DAY):
        for t in _fires_on(opts, cron, d):
            if t > after:
                return t
    return None


def _agg_windows_on(opts: ScheduleOptions, day: date) -> list[tuple[datetime, datetime]]:
    """Merged aggregation windows [open, close) overlapping local `day`."""
    def compute() -> list[tuple[datetime, datetime]]:
        tz = _tz(opts)
        start = local_to_utc(day, time(0), tz)
        end = local_to_utc(day + _DAY, time(0), tz)
        return windows.aggregation_windows(opts, start, end)

    key = ("agg", opts.timezone, opts.aggregate_schedule, opts.aggregate_duration, day)
    return _memo(key, compute)  # type: ignore[no-any-return]


def _agg_window_at(opts: ScheduleOptions, now: datetime,
                   today: date | None = None) -> tuple[datetime, datetime] | None:
    for lo, hi in _agg_windows_on(opts, today or _local_day(opts, now)):
        if lo <= now < hi:
            return lo, hi
    return None


def _utc(t: datetime) -> datetime:
    """Aware UTC. Python adds and compares two datetimes of the same zone by wall
    clock, which is wrong across DST: the engine works on UTC only (rule 13)."""
    if t.tzinfo is None:
        raise ValueError(f"the scheduling engine needs aware datetimes, got {t!r}")
    return t if t.tzinfo is UTC else t.astimezone(UTC)


def _utc_memory(memory: SchedulerMemory) -> SchedulerMemory:
    last, cycle = memory.last_tick, memory.cycle_started_at
    if (last is None or last.tzinfo is UTC) and (cycle is None or cycle.tzinfo is UTC):
        return memory
    return replace(memory, last_tick=_utc(last) if last else None, cycle_started_at=_utc(cycle) if cycle else None)


# --- reason text ------------------------------------------------------------------


def _hm(opts: ScheduleOptions, t: datetime) -> str:
    local = t.astimezone(_tz(opts))
    return f"{local.hour:02d}:{local.minute:02d}"


def _dhm(opts: ScheduleOptions, t: datetime) -> str:
    return t.astimezone(_tz(opts)).strftime("%Y-%m-%d %H:%M")


def _run_text(run: RunInfo) -> str:
    return f"run {run.id}, started by {run.by}"


# --- the decision ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Ctx:
    opts: ScheduleOptions
    now: datetime
    jobs: JobsState
    memory: SchedulerMemory
    config_errors: tuple[str, ...]
    job_errors: Mapping[Job, tuple[str, ...]]  # errors that refuse one job's launches only
    today: date  # the local day of `now` in the option zone

    def running(self, job: Job) -> RunInfo | None:
        return self.jobs.running.get(job)

    def running_by_scheduler(self, job: Job) -> RunInfo | None:
        run = self.jobs.running.get(job)
        return run if run is not None and run.by == SCHEDULER else None


_ORDER = {Action.STOP: 0, Action.SKIP: 1, Action.WAIT: 2, Action.REFUSE: 3, Action.START: 4}


def decide(opts: ScheduleOptions, now: datetime, state: SchedulerState,
           config_errors: Sequence[str] = (),
           job_errors: Mapping[Job, Sequence[str]] | None = None) -> list[Decision]:
    """What the scheduler does at `now`. Pure: no I/O, no clock.

    Steps:
     1. the current ETL cycle: transform after a completed extraction, or end
        the cycle after a failed one (rule 2);
     2. the day's maintenance: start, wait, or skip when the next ETL window
        has opened (rules 5, 13);
     3. a new ETL cycle when due, stopping scheduler maintenance (rules 1, 3, 4, 6);
     4. aggregation inside / stop outside its windows (rules 5, 7, 8);
     5. cron ticks of Job_UpdateStats and Job_ExportGIM, coalesced (rules 7, 9, 10);
     6. the gates: configuration errors refuse (all launches, or one job's with
        job_errors), run-scheduler false holds (rules 11, 12).

    Decisions come in causal order: stops, skips, waits, refusals, then starts.
    """
    now = _utc(now)
    ctx = _Ctx(opts, now, state.jobs, _utc_memory(state.memory), tuple(config_errors),
               {job: tuple(errs) for job, errs in (job_errors or {}).items() if errs}, _local_day(opts, now))
    decisions: list[Decision] = []

    # Starts that the gates (rules 11, 12) will turn into waits or refusals hold
    # nothing back: only a start that happens makes other jobs wait or skip.
    launching = opts.run_scheduler and not ctx.config_errors
    cycle_busy, cycle = _cycle_continuation(ctx)
    decisions += cycle
    etl = [] if cycle_busy else _etl_start(ctx)
    etl_starting = launching and any(d.action is Action.START and d.job is Job.EXTRACT for d in etl)
    maint = _maintenance(ctx, etl_busy=cycle_busy or etl_starting)
    maint_pending = any(d.action in (Action.WAIT, Action.START) for d in maint)
    maint_starting = launching and any(d.action is Action.START for d in maint)
    decisions += maint + etl
    decisions += _aggregation(ctx, maint_pending)
    decisions += _update_stats(ctx, maint_starting)
    decisions += _export(ctx, maint_pending, maint_starting)

    decisions = _gate(ctx, decisions)
    return sorted(decisions, key=lambda d: _ORDER[d.action])


# Rule 2 ------------------------------------------------------------------------------


def _is_cycle_run(run: RunInfo, memory: SchedulerMemory) -> bool:
    """Whether `run` is the extraction of the current cycle: the scheduler started
    it at (or after) the instant it decided the cycle's start."""
    return (run.by == SCHEDULER and run.started_at is not None and memory.cycle_started_at is not None
            and run.started_at >= memory.cycle_started_at)


def _cycle_continuation(ctx: _Ctx) -> tuple[bool, list[Decision]]:
    """(cycle still in progress, decisions) for the current ETL cycle."""
    mem = ctx.memory
    if mem.cycle_stage is CycleStage.TRANSFORM:
        # The cycle ends when its Job_TransformGIM stops running (rule 4 "previous cycle's end").
        return ctx.running_by_scheduler(Job.TRANSFORM) is not None, []
    if mem.cycle_stage is not CycleStage.EXTRACT or mem.cycle_started_at is None:
        return False, []

    started = _hm(ctx.opts, mem.cycle_started_at)
    parent = mem.cycle_extract_id
    if parent is None:
        ext = ctx.running(Job.EXTRACT)
        if ext is not None and _is_cycle_run(ext, mem):
            return True, []  # Rule 2: the transformation waits for the extraction.
        last = ctx.jobs.last_finished.get(Job.EXTRACT)
        if last is None or not _is_cycle_run(last, mem):
            # The start never took effect (refused by the database, say): end the cycle.
            return False, [Decision(
                Action.SKIP, Job.TRANSFORM, 2,
                f"the Job_ExtractICON run of the ETL cycle due at {started} was not found; the cycle "
                "ends without Job_TransformGIM and the next cycle keeps its time")]
        if last.status is not Status.COMPLETE:
            verb = "failed" if last.status is Status.FAILED else "was stopped"
            return False, [Decision(
                Action.SKIP, Job.TRANSFORM, 2,
                f"Job_ExtractICON (run {last.id}) {verb}: the ETL cycle started at {started} ends "
                "without Job_TransformGIM; the next cycle keeps its time")]
        parent = last.id

    other = ctx.running(Job.TRANSFORM)
    if other is not None:
        # Rule 1: another Job_TransformGIM (say one run by hand) is running.
        return True, [Decision(
            Action.WAIT, Job.TRANSFORM, 1,
            f"Job_TransformGIM of the ETL cycle started at {started} waits: another instance is "
            f"running ({_run_text(other)})", cycle_parent_id=parent)]
    return True, [Decision(
        Action.START, Job.TRANSFORM, 2,
        f"ETL cycle started at {started}: Job_ExtractICON (run {parent}) completed",
        cycle_parent_id=parent)]


# Rules 3, 4, 6 -------------------------------------------------------------------------


def _etl_start(ctx: _Ctx) -> list[Decision]:
    opts, now = ctx.opts, ctx.now
    window = _etl_window_at(opts, now, ctx.today)
    if window is None:
        return []  # Rule 3: cycles begin only inside the window.
    opens, closes = window
    prev = ctx.memory.cycle_started_at
    span = f"{_hm(opts, opens)}-{_hm(opts, closes)}"
    if prev is None or prev < opens:
        # Rule 4: first cycle of the window, at etl-start-time or at once when the
        # scheduler starts or resumes inside the window.
        rule, why = 3, f"first ETL cycle of the window {span}"
    else:
        due = prev + timedelta(minutes=opts.etl_frequency)
        if due > now:
            return []
        # Rule 4: later of previous start + etl-frequency and the previous cycle's
        # end (the cycle is over, else we would not be here).
        rule, why = 4, (f"ETL cycle due at {_hm(opts, due)}: etl-frequency {opts.etl_frequency} min "
                        f"after the cycle started at {_hm(opts, prev)} (window {span})")

    ext = ctx.running(Job.EXTRACT)
    if ext is not None:
        return [Decision(Action.WAIT, Job.EXTRACT, 1,
                         f"{why}; Job_ExtractICON is already running ({_run_text(ext)}); the cycle "
                         "starts when it ends")]
    out: list[Decision] = []
    maint = ctx.running(Job.MAINTAIN)
    if maint is not None and maint.by == SCHEDULER:
        # Rule 6: a due cycle preempts the scheduler's maintenance.
        if not maint.stop_requested:
            out.append(Decision(Action.STOP, Job.MAINTAIN, 6,
                                f"an ETL cycle is due ({why}): the scheduler stops Job_MaintainGIM "
                                f"(run {maint.id}) and starts the cycle", run_id=maint.id))
        rule, why = 6, f"{why}; preempts Job_MaintainGIM (run {maint.id})"
    elif maint is not None:
        # The seed: maintenance run by hand is not protected; the operator suspends
        # the ETL schedule first if needed. The scheduler does not stop it.
        why += f"; Job_MaintainGIM run {maint.id} was started by hand and is not stopped"
    out.append(Decision(Action.START, Job.EXTRACT, rule, why))
    return out


# Rules 5, 13 ---------------------------------------------------------------------------


_MAINT_BLOCKERS = (Job.EXTRACT, Job.TRANSFORM, Job.AGGREGATE, Job.EXPORT)


def _maintenance(ctx: _Ctx, *, etl_busy: bool) -> list[Decision]:
    opts, now = ctx.opts, ctx.now
    if not opts.run_maintain:
        return []
    day, at = _maintenance_slot(opts, now, ctx.today)
    done = ctx.memory.maintenance_day
    if done is not None and done >= day:
        return []  # Rule 13: at most once per local day (started or skipped).
    deadline = _next_etl_open(opts, at)
    if now >= deadline:
        last = ctx.memory.last_tick
        if last is None or last >= deadline:
            # Not a miss to report: a first start (fresh memory) or run-maintain
            # switched on after the day's chance had passed.
            return []
        return [Decision(Action.SKIP, Job.MAINTAIN, 5, _maintenance_skip_reason(ctx, day, at, deadline),
                         maintenance_day=day)]

    until = f"it may start until {_hm(opts, deadline)}, when the next ETL window opens"
    own = ctx.running(Job.MAINTAIN)
    if own is not None:
        return [Decision(Action.WAIT, Job.MAINTAIN, 1,
                         f"maintenance of {day}: Job_MaintainGIM is already running ({_run_text(own)}); "
                         f"{until}", maintenance_day=day)]
    blockers = [f"{job.value} (run {run.id})" for job in _MAINT_BLOCKERS
                if (run := ctx.running(job)) is not None]
    if etl_busy and not any(ctx.running(j) for j in (Job.EXTRACT, Job.TRANSFORM)):
        blockers.append("the ETL cycle")
    if blockers:
        return [Decision(Action.WAIT, Job.MAINTAIN, 5,
                         f"maintenance of {day} waits for {', '.join(blockers)} to finish; {until}",
                         maintenance_day=day)]
    return [Decision(Action.START, Job.MAINTAIN, 5,
                     f"maintenance of {day}: maintain-start-time {opts.maintain_start_time:%H:%M} "
                     "reached and no ETL, aggregation or export job is running", maintenance_day=day)]


def _maintenance_skip_reason(ctx: _Ctx, day: date, at: datetime, deadline: datetime) -> str:
    opts = ctx.opts
    other_day = _local_day(opts, deadline) != _local_day(opts, at)
    until = _dhm(opts, deadline) if other_day else _hm(opts, deadline)
    head = (f"maintenance of {day} skipped: it could not start between {_hm(opts, at)} and "
            f"{until}, when the next ETL window opened")
    last = ctx.memory.last_tick
    if last is not None and last < at:
        return f"{head} (the scheduler was not running from {_dhm(opts, last)} until {_dhm(opts, ctx.now)})"
    causes = []
    if ctx.config_errors:
        causes.append("the configuration check found errors")
    if not opts.run_scheduler:
        causes.append("run-scheduler was false")
    running = [f"{j.value} (run {r.id})" for j in (Job.MAINTAIN, *_MAINT_BLOCKERS)
               if (r := ctx.running(j)) is not None]
    if running:
        causes.append("still running: " + ", ".join(running))
    return head + (f" ({'; '.join(causes)})" if causes else "")


# Rules 5, 7, 8 ---------------------------------------------------------------------------


def _maintenance_hold(ctx: _Ctx, maint_pending: bool) -> tuple[int, str] | None:
    """Why the scheduler starts no other job now because of maintenance (rules 5, 7)."""
    own = ctx.running_by_scheduler(Job.MAINTAIN)
    if own is not None:
        return 7, f"the scheduler's Job_MaintainGIM is running (run {own.id})"
    if maint_pending:
        return 5, "the daily Job_MaintainGIM is due and waiting to start"
    return None


def _aggregation(ctx: _Ctx, maint_pending: bool) -> list[Decision]:
    opts, now = ctx.opts, ctx.now
    if not opts.run_aggregates:
        return []  # Rule 11: the switch hands Job_AggregateGIM to the operator.
    run = ctx.running(Job.AGGREGATE)
    window = _agg_window_at(opts, now, ctx.today)
    if window is None:
        if run is None or run.stop_requested:
            return []
        # Rule 8: stopped when the window ends. A run started by hand before
        # run-aggregates became true is stopped too: the schedule now governs
        # Job_AggregateGIM (the seed's "until ... the configured daily schedule comes into effect").
        began = _agg_window_at(opts, run.started_at) if run.started_at else None
        if began is not None and began[1] <= now:
            why = f"the aggregation window {_hm(opts, began[0])}-{_hm(opts, began[1])} ended"
        else:
            why = (f"outside the aggregation windows (aggregate-schedule '{opts.aggregate_schedule.text}', "
                   f"aggregate-duration {_duration(opts.aggregate_duration)})")
        return [Decision(Action.STOP, Job.AGGREGATE, 8, f"{why}: Job_AggregateGIM (run {run.id}) is stopped",
                         run_id=run.id)]
    if run is not None:
        return []  # Rule 1: it runs (whoever started it); nothing to do.
    lo, hi = window
    span = f"{_hm(opts, lo)}-{_hm(opts, hi)}"
    hold = _maintenance_hold(ctx, maint_pending)
    if hold is not None:
        return [Decision(Action.WAIT, Job.AGGREGATE, hold[0],
                         f"aggregation window {span} is open but {hold[1]}")]
    last = ctx.jobs.last_finished.get(Job.AGGREGATE)
    why = f"aggregation window {span}"
    if last is not None and last.ended_at is not None and last.ended_at >= lo:
        why += f": restarted after run {last.id} ended ({last.status.value.lower()}) inside the window"
    return [Decision(Action.START, Job.AGGREGATE, 8, why)]


def _duration(td: timedelta) -> str:
    minutes = int(td.total_seconds() // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# Rules 7, 9, 10 ----------------------------------------------------------------------------


def _tick(ctx: _Ctx, option: str, cron: CronSpec, enabled: bool) -> tuple[datetime, str] | None:
    """The coalesced due fire time of a cron job, with its description; None if none.

    Fire times in (last tick, now] are due; several (ticks missed while the
    scheduler was down) coalesce into the latest one: one run at most. When the
    job's switch is off they pass silently (advance moves last_tick past them).
    """
    if not enabled:
        return None
    fire, count = _due_fires(ctx.opts, cron, ctx.memory.last_tick, ctx.now)
    if fire is None:
        return None
    text = f"{option} '{cron.text}' fire time {_hm(ctx.opts, fire)}"
    if count is None:
        text += f" (fire times missed since {_dhm(ctx.opts, ctx.memory.last_tick)} coalesced into this one)"  # type: ignore[arg-type]
    elif count > 1:
        text += f" ({count - 1} earlier missed fire time{'s' if count > 2 else ''} coalesced into this one)"
    return fire, text


def _update_stats(ctx: _Ctx, maint_starting: bool) -> list[Decision]:
    opts = ctx.opts
    tick = _tick(ctx, "update-stats-schedule", opts.update_stats_schedule, opts.run_update_stats)
    if tick is None:
        return []
    fire, text = tick
    run = ctx.running(Job.UPDATE_STATS)
    if run is not None:
        return [Decision(Action.SKIP, Job.UPDATE_STATS, 9,
                         f"{text} skipped: Job_UpdateStats is still running ({_run_text(run)})", fire_time=fire)]
    own = ctx.running_by_scheduler(Job.MAINTAIN)
    if own is not None or maint_starting:
        # Rule 7: suspended, not queued, while the scheduler's maintenance runs.
        which = f"run {own.id}" if own is not None else "starting now"
        return [Decision(Action.SKIP, Job.UPDATE_STATS, 7,
                         f"{text} skipped: the Job_UpdateStats schedule is suspended while the scheduler's "
                         f"Job_MaintainGIM runs ({which})", fire_time=fire)]
    return [Decision(Action.START, Job.UPDATE_STATS, 9, text, fire_time=fire)]


def _export(ctx: _Ctx, maint_pending: bool, maint_starting: bool) -> list[Decision]:
    opts = ctx.opts
    tick = _tick(ctx, "export-schedule", opts.export_schedule, opts.run_export)
    if tick is None:
        return []
    fire, text = tick
    run = ctx.running(Job.EXPORT)
    if run is not None:
        return [Decision(Action.SKIP, Job.EXPORT, 10,
                         f"{text} skipped: Job_ExportGIM is still running ({_run_text(run)})", fire_time=fire)]
    maint = ctx.running(Job.MAINTAIN)
    if maint is not None or maint_starting:
        # Rule 10: never together with Job_MaintainGIM, whoever started it.
        which = _run_text(maint) if maint is not None else "starting now"
        return [Decision(Action.SKIP, Job.EXPORT, 10,
                         f"{text} skipped: Job_ExportGIM never runs together with Job_MaintainGIM ({which})",
                         fire_time=fire)]
    if maint_pending:
        # Rule 5: while maintenance waits, no export starts; the tick is not queued.
        return [Decision(Action.SKIP, Job.EXPORT, 5,
                         f"{text} skipped: the daily Job_MaintainGIM is waiting to start", fire_time=fire)]
    return [Decision(Action.START, Job.EXPORT, 10, text, fire_time=fire)]


# Rules 11, 12 -------------------------------------------------------------------------------


def _gate(ctx: _Ctx, decisions: Iterable[Decision]) -> list[Decision]:
    """Turn launches into refusals (rule 12) or holds (rule 11); keep bookkeeping skips.

    Stops are dropped in both cases: running jobs go on (rule 11), and a
    configuration error stops launches, not jobs (rule 12). Reasons stay the
    same from tick to tick while the cause lasts (cron ticks are named by their
    schedule, the instant is in fire_time), so a recorder can fold repeats into one.
    """
    decisions = list(decisions)
    if ctx.config_errors:
        return [d if d.action is Action.SKIP else _refused(ctx, d, ctx.config_errors)
                for d in decisions if d.action in (Action.SKIP, Action.START, Action.WAIT)]
    if not ctx.opts.run_scheduler:
        out = []
        for d in decisions:
            if d.action is Action.SKIP:
                out.append(d)
            elif d.action is Action.START and d.fire_time is not None:
                out.append(replace(d, action=Action.SKIP, rule=11,
                                   reason=f"{_due_text(ctx, d)} skipped: run-scheduler is false"))
            elif d.action in (Action.START, Action.WAIT):
                out.append(replace(d, action=Action.WAIT, rule=11, reason=(
                    f"run-scheduler is false, so the scheduler launches no job; due: {_due_text(ctx, d)}")))
        return out
    # Rule 12 for one job: its launches are refused, every other job goes on.
    return [_refused(ctx, d, ctx.job_errors[d.job])
            if d.job in ctx.job_errors and d.action in (Action.START, Action.WAIT) else d for d in decisions]


def _refused(ctx: _Ctx, d: Decision, errors: Sequence[str]) -> Decision:
    n = len(errors)
    why = f"not started: the configuration check found {n} error{'s' if n > 1 else ''} ({'; '.join(errors)})"
    return replace(d, action=Action.REFUSE, rule=12, reason=f"{why}; due: {_due_text(ctx, d)}")


def _due_text(ctx: _Ctx, d: Decision) -> str:
    if d.fire_time is None:
        return d.reason
    if d.job is Job.UPDATE_STATS:
        return f"update-stats-schedule '{ctx.opts.update_stats_schedule.text}' fire times"
    return f"export-schedule '{ctx.opts.export_schedule.text}' fire times"


# --- memory ------------------------------------------------------------------------------------


def advance(memory: SchedulerMemory, decisions: Iterable[Decision], now: datetime) -> SchedulerMemory:
    """The memory after applying `decisions` at `now`. Pure.

    Call it once per decide() with that call's decisions and `now`, and persist
    the result together with the effects of the decisions.
    """
    now = _utc(now)
    memory = _utc_memory(memory)
    cycle_started_at, stage, extract_id = memory.cycle_started_at, memory.cycle_stage, memory.cycle_extract_id
    day = memory.maintenance_day
    fires = dict(memory.last_fire)
    for d in decisions:
        if d.fire_time is not None:
            # Cron ticks are consumed by START, SKIP and REFUSE alike (rules 9, 10, 12).
            fires[d.job] = max(d.fire_time, fires.get(d.job, d.fire_time))
        if d.job is Job.MAINTAIN and d.maintenance_day is not None and d.action in (Action.START, Action.SKIP):
            day = d.maintenance_day if day is None else max(day, d.maintenance_day)
        if d.job is Job.EXTRACT and d.action is Action.START:
            cycle_started_at, stage, extract_id = now, CycleStage.EXTRACT, None
        elif d.job is Job.TRANSFORM:
            if d.action is Action.START:
                stage, extract_id = CycleStage.TRANSFORM, d.cycle_parent_id
            elif d.action is Action.SKIP and d.rule == 2:
                stage, extract_id = CycleStage.IDLE, None
            elif d.cycle_parent_id is not None:
                # Rule 2: remember the completed extraction while the transform waits.
                extract_id = d.cycle_parent_id
    # last_tick never moves back: a clock step backwards must not fire ticks twice.
    last_tick = now if memory.last_tick is None else max(memory.last_tick, now)
    return SchedulerMemory(last_tick=last_tick, cycle_started_at=cycle_started_at, cycle_stage=stage,
                           cycle_extract_id=extract_id, maintenance_day=day,
                           last_fire=MappingProxyType(fires))


def bootstrap_memory(opts: ScheduleOptions, jobs: JobsState, now: datetime) -> SchedulerMemory:
    """A memory rebuilt from job runs, for a first start or a lost memory row.

    The latest scheduler-started extraction becomes the last cycle start (so no
    cycle is repeated), a scheduler maintenance started since the day's
    maintain-start-time settles that day, and cron ticks before `now` are treated
    as consumed.
    """
    now = _utc(now)
    cycle_started_at: datetime | None = None
    stage = CycleStage.IDLE
    ext = jobs.running.get(Job.EXTRACT)
    if ext is not None and ext.by == SCHEDULER and ext.started_at is not None:
        cycle_started_at, stage = _utc(ext.started_at), CycleStage.EXTRACT
    else:
        last = jobs.last_finished.get(Job.EXTRACT)
        if last is not None and last.by == SCHEDULER and last.started_at is not None:
            cycle_started_at = _utc(last.started_at)
        tr = jobs.running.get(Job.TRANSFORM)
        if tr is not None and tr.by == SCHEDULER:
            stage = CycleStage.TRANSFORM
    day = None
    for run in (jobs.running.get(Job.MAINTAIN), jobs.last_finished.get(Job.MAINTAIN)):
        if run is not None and run.by == SCHEDULER and run.started_at is not None:
            slot_day, at = _maintenance_slot(opts, run.started_at)
            if run.started_at >= at and (day is None or slot_day > day):
                day = slot_day
    return SchedulerMemory(last_tick=now, cycle_started_at=cycle_started_at, cycle_stage=stage,
                           maintenance_day=day)


# --- when to look again ---------------------------------------------------------------------------


def next_wakeup(opts: ScheduleOptions, now: datetime, state: SchedulerState) -> datetime:
    """The next instant after `now` at which decide() could answer differently
    without any job run changing: a cron fire time, an ETL window opening, a due
    cycle, a maintain-start-time, an aggregation window edge. Job ends are not
    included (the adapter also wakes on them or caps its sleep). Never later
    than a day ahead; always later than `now`.
    """
    now = _utc(now)
    candidates: list[datetime] = [now + _DAY]
    for enabled, cron in ((opts.run_update_stats, opts.update_stats_schedule),
                          (opts.run_export, opts.export_schedule)):
        if enabled and (t := _next_fire(opts, cron, now)) is not None:
            candidates.append(t)
    today = _local_day(opts, now)
    candidates.append(_next_etl_open(opts, now))
    window = _etl_window_at(opts, now, today)
    prev = _utc_memory(state.memory).cycle_started_at
    if window is not None and prev is not None and prev >= window[0]:
        due = prev + timedelta(minutes=opts.etl_frequency)
        if now < due <= window[1]:
            candidates.append(due)
    if opts.run_maintain:
        for day in (today, today + _DAY, today + 2 * _DAY):
            if (at := _maintain_at(opts, day)) > now:
                candidates.append(at)
                break
    if opts.run_aggregates:
        for day in (today, today + _DAY):
            for lo, hi in _agg_windows_on(opts, day):
                if lo > now:
                    candidates.append(lo)
                if hi > now:
                    candidates.append(hi)
    return min(t for t in candidates if t > now)
