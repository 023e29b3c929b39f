"""A pure simulation of the Scheduler on a virtual clock.

    events = simulate(opts, start, end, durations, fails, manual)

It drives the same `scheduler.engine.decide` / `advance` as the live beat, and
`scheduler.manual.decide_run` / `decide_stop` for Manager actions, so what it
shows is what the live scheduler does. Jobs are not run: each run lasts its
configured duration (or fails when told to). Stepping is event-driven: the
clock jumps to the next instant at which anything can change (a run's end, a
manual action, an option change, the engine's `next_wakeup`), so a simulated
year takes seconds.

At one instant, things happen in causal order: runs ending, then option
changes, then manual actions, then the scheduler's decisions (repeated at the
same instant until nothing more changes, since a stop takes effect at once
here and may let something else start).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from gimmanager.catalog import Job, Status
from gimmanager.options import ScheduleOptions
from scheduler import manual as manual_rules
from scheduler.engine import Action, Decision, advance, decide, next_wakeup
from scheduler.manual import Verdict
from scheduler.state import JobsState, RunInfo, SchedulerMemory, SchedulerState

# The `event` values of the timeline ("waiting" too when include_waits is set).
EVENT_KINDS: tuple[str, ...] = ("started", "completed", "failed", "stopped", "scheduled", "cancelled",
                                "refused", "skipped")

# Minutes; Job_AggregateGIM has none: it runs until something stops it.
DEFAULT_DURATIONS: Mapping[Job, float] = MappingProxyType({
    Job.EXTRACT: 5, Job.TRANSFORM: 5, Job.MAINTAIN: 30, Job.UPDATE_STATS: 1, Job.EXPORT: 10,
})

REAGGREGATION_PREFIX = "-insertPendingAgg"
_MAX_ROUNDS = 50  # decide() rounds at one instant; more means the rules contradict themselves


@dataclass(frozen=True)
class Event:
    """One line of the timeline. `time` is aware, in the configured zone."""

    time: datetime
    job: Job
    event: str
    by: str  # "scheduler" or "manual"
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"time": self.time.isoformat(), "job": self.job.value, "event": self.event, "by": self.by,
                "reason": self.reason}


@dataclass(frozen=True)
class ManualAction:
    at: datetime
    action: str  # "run" | "stop" | "cancel"
    job: Job
    params: str = ""


@dataclass(frozen=True)
class OptionChange:
    """From `at` on, the scheduler sees these options and configuration errors (rule 12)."""

    at: datetime
    opts: ScheduleOptions
    config_errors: tuple[str, ...] = ()


ManualInput = ManualAction | tuple[Any, ...]


def simulate(
    opts: ScheduleOptions,
    start: datetime,
    end: datetime,
    durations: Mapping[Job, float] | None = None,
    fails: Iterable[tuple[Job, datetime]] = (),
    manual: Iterable[ManualInput] = (),
    *,
    config_errors: Sequence[str] = (),
    changes: Iterable[OptionChange] = (),
    outages: Iterable[tuple[datetime, datetime]] = (),
    memory: SchedulerMemory | None = None,
    include_waits: bool = False,
) -> list[Event]:
    """Events of the scheduler and the Manager between `start` (included) and `end` (excluded).

    - durations: minutes per job (defaults: DEFAULT_DURATIONS; Job_AggregateGIM
      runs until stopped unless given one).
    - fails: (job, instant): the run of `job` going at that instant fails then;
      if none is, the next run starting after it fails at its planned end (at
      its start if it has no duration).
    - manual: (instant, "run"|"stop"|"cancel", job, params) Manager actions.
    - config_errors: configuration-check errors in force from the start (rule 12).
    - changes: option changes over time (rules 11, 12).
    - outages: [from, to) spans during which the scheduler is down: runs still
      end and Manager actions still apply, but nothing is decided; at `to` it
      restarts with its memory (restart safety, missed-tick coalescing).
    - include_waits: also report WAIT decisions, as "waiting" events, when they first appear.
    """
    sim = Simulation(opts, durations=durations, fails=fails, manual=manual, config_errors=config_errors,
                     changes=changes, outages=outages, memory=memory, include_waits=include_waits)
    return sim.run(start, end)


@dataclass
class _Planned:
    end: datetime | None
    outcome: Status
    fail_index: int | None = None


@dataclass
class Simulation:
    """The simulator's mutable world. `run(start, end)` returns the events; the
    final `memory` and `runs` stay readable afterwards (tests use them)."""

    opts: ScheduleOptions
    durations: Mapping[Job, float] | None = None
    fails: Iterable[tuple[Job, datetime]] = ()
    manual: Iterable[ManualInput] = ()
    config_errors: Sequence[str] = ()
    changes: Iterable[OptionChange] = ()
    outages: Iterable[tuple[datetime, datetime]] = ()
    memory: SchedulerMemory | None = None
    include_waits: bool = False

    runs: dict[int, RunInfo] = field(default_factory=dict)
    decisions: list[tuple[datetime, Decision]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._durations = {**DEFAULT_DURATIONS, **(self.durations or {})}
        # All instants in UTC: aware arithmetic within one zone is wall-clock arithmetic.
        self._fails = sorted(((_utc(t), job) for job, t in self.fails), key=lambda x: x[0])
        self._fail_used = [False] * len(self._fails)
        self._manual = sorted((_manual_action(m) for m in self.manual), key=lambda a: a.at)
        self._changes = sorted((replace(c, at=_utc(c.at)) for c in self.changes), key=lambda c: c.at)
        self._outages = sorted((_utc(a), _utc(b)) for a, b in self.outages)
        self._errors = tuple(self.config_errors)
        self.memory = self.memory or SchedulerMemory()
        self._running: dict[Job, int] = {}
        self._scheduled: dict[Job, int] = {}
        self._last: dict[Job, RunInfo] = {}
        self._planned: dict[int, _Planned] = {}
        self._ends: list[tuple[datetime, int, int]] = []
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self._notes: dict[Job, tuple[Action, str]] = {}
        self.events: list[Event] = []
        self._jobs_cache: JobsState | None = None
        self._wake: tuple[tuple[Any, ...], datetime] | None = None

    # --- main loop -------------------------------------------------------------

    def run(self, start: datetime, end: datetime) -> list[Event]:
        start, end = _utc(start), _utc(end)
        mi = ci = 0
        t = start
        while t < end:
            # 1. options in force at t (rule 12: changes apply at the next tick)
            while ci < len(self._changes) and self._changes[ci].at <= t:
                self.opts, self._errors = self._changes[ci].opts, tuple(self._changes[ci].config_errors)
                ci += 1
            self._finish_runs(t)
            # 2. Manager actions at t
            while mi < len(self._manual) and self._manual[mi].at <= t:
                self._manual_action(self._manual[mi], t)
                mi += 1
            # 3. the scheduler, unless it is down
            if not self._down(t):
                self._decide_until_stable(t)
            t = self._next_instant(t, end, mi, ci)
        return self.events

    def _down(self, t: datetime) -> bool:
        return any(a <= t < b for a, b in self._outages)

    def _next_instant(self, t: datetime, end: datetime, mi: int, ci: int) -> datetime:
        candidates = [end]
        while self._ends and self._stale(self._ends[0]):
            heapq.heappop(self._ends)
        if self._ends:
            candidates.append(self._ends[0][0])
        if mi < len(self._manual):
            candidates.append(self._manual[mi].at)
        if ci < len(self._changes):
            candidates.append(self._changes[ci].at)
        candidates += [x for a, b in self._outages for x in (a, b) if x > t]
        if not self._down(t):
            candidates.append(self._wakeup(t))
        nxt = min(c for c in candidates if c > t) if any(c > t for c in candidates) else end
        return nxt

    def _wakeup(self, t: datetime) -> datetime:
        # next_wakeup depends on the options, the clock and the last cycle start
        # only; its answer stays right until that instant passes.
        assert self.memory is not None
        key = (self.opts, self.memory.cycle_started_at)
        if self._wake is None or self._wake[0] != key or self._wake[1] <= t:
            self._wake = (key, next_wakeup(self.opts, t, self._state()))
        return self._wake[1]

    def _stale(self, entry: tuple[datetime, int, int]) -> bool:
        run = self.runs[entry[2]]
        return run.status is not Status.RUNNING

    # --- state ------------------------------------------------------------------

    def _jobs(self) -> JobsState:
        if self._jobs_cache is None:
            self._jobs_cache = self._build_jobs()
        return self._jobs_cache

    def _build_jobs(self) -> JobsState:
        return JobsState(
            running=MappingProxyType({j: self.runs[i] for j, i in self._running.items()}),
            scheduled=MappingProxyType({j: self.runs[i] for j, i in self._scheduled.items()}),
            last_finished=MappingProxyType(dict(self._last)),
        )

    def _state(self) -> SchedulerState:
        assert self.memory is not None
        return SchedulerState(jobs=self._jobs(), memory=self.memory)

    def _emit(self, t: datetime, job: Job, kind: str, by: str, reason: str | None = None) -> None:
        if kind not in ("refused", "waiting"):
            self._notes.pop(job, None)  # something happened: the next refusal or wait is news
        self.events.append(Event(t.astimezone(self.opts.tz), job, kind, by, reason))

    # --- runs ---------------------------------------------------------------------

    def _start(self, job: Job, t: datetime, by: str, *, params: str = "", parent_id: int | None = None,
               reason: str | None = None, run_id: int | None = None) -> RunInfo:
        if job in self._running:
            raise AssertionError(f"rule 1 broken: {job.value} started at {t} while run "
                                 f"{self._running[job]} runs")
        if run_id is None:
            run = RunInfo(id=next(self._ids), job=job, status=Status.RUNNING, by=by, requested_at=t,
                          started_at=t, params=params, parent_id=parent_id)
        else:  # a SCHEDULED request starting
            run = replace(self.runs[run_id], status=Status.RUNNING, started_at=t)
        self.runs[run.id] = run
        self._running[job] = run.id
        self._jobs_cache = None
        plan = self._plan(job, t)
        self._planned[run.id] = plan
        if plan.end is not None:
            heapq.heappush(self._ends, (plan.end, next(self._seq), run.id))
        self._emit(t, job, "started", by, reason)
        return run

    def _plan(self, job: Job, t: datetime) -> _Planned:
        minutes = self._durations.get(job)
        end = t + timedelta(minutes=minutes) if minutes is not None else None
        for i, (at, fjob) in enumerate(self._fails):
            if fjob is not job or self._fail_used[i]:
                continue
            if at <= t:  # nothing was going at `at`: this, the next run after it, fails
                return _Planned(end if end is not None else t, Status.FAILED, i)
            if end is None or at <= end:  # this run is going at `at`
                return _Planned(at, Status.FAILED, i)
        return _Planned(end, Status.COMPLETE)

    def _end(self, run_id: int, t: datetime, status: Status, by: str, reason: str | None) -> None:
        run = replace(self.runs[run_id], status=status, ended_at=t)
        self.runs[run_id] = run
        del self._running[run.job]
        self._jobs_cache = None
        self._last[run.job] = run
        kind = {Status.COMPLETE: "completed", Status.FAILED: "failed", Status.STOPPED: "stopped"}[status]
        self._emit(t, run.job, kind, by, reason)
        self._promote(run.job, t)

    def _promote(self, job: Job, t: datetime) -> None:
        """Manual rule 1: a SCHEDULED request starts when the running instance ends."""
        run_id = self._scheduled.pop(job, None)
        if run_id is not None:
            self._jobs_cache = None
            self._start(job, t, "manual", run_id=run_id,
                        reason=f"the SCHEDULED request (run {run_id}) starts: the running instance ended")

    def _finish_runs(self, t: datetime) -> bool:
        ended = False
        while self._ends and self._ends[0][0] <= t:
            _, _, run_id = heapq.heappop(self._ends)
            if self.runs[run_id].status is not Status.RUNNING:
                continue
            plan = self._planned[run_id]
            reason = None
            if plan.outcome is Status.FAILED and plan.fail_index is not None:
                self._fail_used[plan.fail_index] = True
                at, job = self._fails[plan.fail_index]
                reason = f"simulated failure ({job.value}@{at.astimezone(self.opts.tz).isoformat()})"
            self._end(run_id, plan.end or t, plan.outcome, self.runs[run_id].by, reason)
            ended = True
        return ended

    # --- the scheduler --------------------------------------------------------------

    def _decide_until_stable(self, t: datetime) -> None:
        for _ in range(_MAX_ROUNDS):
            self._finish_runs(t)  # zero-length runs end at the instant they start
            decisions = decide(self.opts, t, self._state(), self._errors)
            self.memory = advance(self.memory, decisions, t)  # type: ignore[arg-type]
            self.decisions.extend((t, d) for d in decisions)
            if not self._apply(decisions, t):
                return
        raise RuntimeError(f"the scheduler did not settle at {t.isoformat()}: {decisions}")

    def _apply(self, decisions: list[Decision], t: datetime) -> bool:
        changed = False
        for d in decisions:
            if d.action is Action.START:
                self._start(d.job, t, "scheduler", parent_id=d.cycle_parent_id, reason=d.reason)
                # A start only holds other jobs back (new WAITs); decide again only to
                # report those, or when a zero-length run already ended.
                changed = changed or self.include_waits or bool(self._ends and self._ends[0][0] <= t)
            elif d.action is Action.STOP:
                if d.run_id is not None and self.runs[d.run_id].status is Status.RUNNING:
                    self._end(d.run_id, t, Status.STOPPED, "scheduler", d.reason)
                    changed = True
            elif d.action is Action.SKIP:
                self._emit(t, d.job, "skipped", "scheduler", d.reason)
                changed = True  # memory moved (a cycle ended, a day was settled): decide again
            elif d.action is Action.REFUSE or self.include_waits:
                # WAIT and REFUSE repeat at every tick while their cause lasts: report
                # one when it differs from the last one reported for the job.
                key = (d.action, d.reason)
                if self._notes.get(d.job) != key:
                    self._notes[d.job] = key
                    self._emit(t, d.job, "refused" if d.action is Action.REFUSE else "waiting", "scheduler",
                               d.reason)
        return changed

    # --- the Manager -------------------------------------------------------------------

    def _manual_action(self, act: ManualAction, t: datetime) -> None:
        state = self._jobs()
        if act.action == "run":
            reagg = act.params.strip().startswith(REAGGREGATION_PREFIX)
            md = manual_rules.decide_run(self.opts, t, state, act.job, reaggregation=reagg)
            if md.verdict is Verdict.START:
                note = "; ".join(md.warnings) or (md.message if md.ignore_params else None)
                self._start(act.job, t, "manual", params="" if md.ignore_params else act.params, reason=note)
            elif md.verdict is Verdict.SCHEDULE:
                run = RunInfo(id=next(self._ids), job=act.job, status=Status.SCHEDULED, by="manual",
                              requested_at=t, params=act.params)
                self.runs[run.id] = run
                self._scheduled[act.job] = run.id
                self._jobs_cache = None
                self._emit(t, act.job, "scheduled", "manual", _with_warnings(md))
            elif md.verdict is Verdict.HAND_OVER:
                # No new run: the running aggregation takes the request.
                self._emit(t, act.job, "skipped", "manual", md.message)
            else:
                self._emit(t, act.job, "refused", "manual", md.message)
            return
        if act.action == "stop":
            run_id = self._running.get(act.job, self._scheduled.get(act.job))
        elif act.action == "cancel":
            run_id = self._scheduled.get(act.job)
        else:
            raise ValueError(f"unknown manual action {act.action!r}; expected run, stop or cancel")
        if run_id is None:
            what = "neither running nor scheduled" if act.action == "stop" else "not scheduled"
            self._emit(t, act.job, "refused", "manual", f"{act.job.value} is {what}.")
            return
        md = manual_rules.decide_stop(self.opts, t, self.runs[run_id])
        if md.verdict is Verdict.CANCEL:
            self.runs[run_id] = replace(self.runs[run_id], status=Status.STOPPED, ended_at=t)
            del self._scheduled[act.job]
            self._jobs_cache = None
            self._emit(t, act.job, "cancelled", "manual", md.message)
        elif md.verdict is Verdict.STOP:
            self._end(run_id, t, Status.STOPPED, "manual", "; ".join(md.warnings) or None)
        else:
            self._emit(t, act.job, "refused", "manual", md.message)


def _with_warnings(md: manual_rules.ManualDecision) -> str:
    return " ".join((md.message, *md.warnings))


def _manual_action(m: ManualInput) -> ManualAction:
    if isinstance(m, ManualAction):
        return replace(m, at=_utc(m.at))
    at, action, job, *rest = m
    return ManualAction(_utc(at), action, Job(job), rest[0] if rest and rest[0] else "")


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"the simulator needs aware datetimes, got {t!r}")
    return t.astimezone(UTC)


# --- rendering -----------------------------------------------------------------------------


def render_text(events: Sequence[Event]) -> str:
    """One line per event: local time with offset, job, event, by, reason."""
    lines = []
    for e in events:
        line = f"{e.time.isoformat()}  {e.job.value:<17} {e.event:<10} by {e.by:<9}"
        if e.reason:
            line += f"  {e.reason}"
        lines.append(line.rstrip())
    return "\n".join(lines)


def render_json(events: Sequence[Event]) -> list[dict[str, Any]]:
    return [e.as_json() for e in events]
