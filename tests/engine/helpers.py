"""Builders shared by the engine tests: aware local instants, options, runs, states."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from types import MappingProxyType
from zoneinfo import ZoneInfo

from gimmanager.catalog import Job, Status
from gimmanager.options import ScheduleOptions
from scheduler.engine import Action, Decision
from scheduler.simulator import Event
from scheduler.state import JobsState, RunInfo, SchedulerMemory, SchedulerState

NY = "America/New_York"
BERLIN = "Europe/Berlin"


def at(s: str, tz: str = NY) -> datetime:
    """An aware local instant: at("2026-03-08T02:30"). Rule 13 cases name their zone."""
    return datetime.fromisoformat(s).replace(tzinfo=ZoneInfo(tz))


def options(tz: str = NY, **overrides: str) -> ScheduleOptions:
    """[schedule] options with the scheduler on and everything optional off, plus overrides."""
    base = {"run_scheduler": "true", "timezone": tz, "run_maintain": "false", "run_aggregates": "false",
            "run_update_stats": "false", "run_export": "false"}
    return ScheduleOptions.from_values(None, **{**base, **overrides})


def sample(tz: str = NY, **overrides: str) -> ScheduleOptions:
    """The seed's sample schedule (Operations Guide, 'Sample schedule')."""
    return options(tz, etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30",
                   run_maintain="true", maintain_start_time="03:00", run_aggregates="true",
                   aggregate_schedule="0 4", aggregate_duration="23:00", **overrides)


def run(job: Job, id: int, *, by: str = "scheduler", started: datetime, ended: datetime | None = None,
        status: Status | None = None, parent_id: int | None = None, stop_requested: bool = False) -> RunInfo:
    if status is None:
        status = Status.RUNNING if ended is None else Status.COMPLETE
    return RunInfo(id=id, job=job, status=status, by=by, requested_at=started, started_at=started,
                   ended_at=ended, parent_id=parent_id, stop_requested=stop_requested)


def state(running: Iterable[RunInfo] = (), last: Iterable[RunInfo] = (),
          memory: SchedulerMemory | None = None, scheduled: Iterable[RunInfo] = ()) -> SchedulerState:
    return SchedulerState(
        jobs=JobsState(running=MappingProxyType({r.job: r for r in running}),
                       scheduled=MappingProxyType({r.job: r for r in scheduled}),
                       last_finished=MappingProxyType({r.job: r for r in last})),
        memory=memory or SchedulerMemory())


def memory(**fields: object) -> SchedulerMemory:
    return SchedulerMemory(**fields)  # type: ignore[arg-type]


def brief(decisions: Sequence[Decision]) -> list[tuple[Action, Job, int]]:
    return [(d.action, d.job, d.rule) for d in decisions]


def hm(t: datetime, tz: str = NY) -> str:
    return t.astimezone(ZoneInfo(tz)).strftime("%m-%d %H:%M")


def lines(events: Sequence[Event], *, job: Job | None = None, kinds: Iterable[str] | None = None) -> list[str]:
    """Events as 'MM-DD HH:MM Job event by', local to each event's zone, filtered."""
    wanted = set(kinds) if kinds is not None else None
    return [f"{e.time:%m-%d %H:%M} {e.job.value} {e.event} {e.by}" for e in events
            if (job is None or e.job is job) and (wanted is None or e.event in wanted)]


def starts(events: Sequence[Event], job: Job) -> list[str]:
    """Local 'MM-DD HH:MM' of each start of `job`."""
    return [f"{e.time:%m-%d %H:%M}" for e in events if e.job is job and e.event == "started"]
