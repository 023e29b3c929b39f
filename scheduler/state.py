"""Snapshots of job state handed to the pure rules (engine and manual control).

Adapters build these from a few indexed queries; the rules never see the ORM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Mapping

from gimmanager.catalog import Job, Status


@dataclass(frozen=True)
class RunInfo:
    """One job run as the rules see it."""

    id: int
    job: Job
    status: Status
    by: str  # "scheduler" or "manual"
    requested_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    params: str = ""
    stop_requested: bool = False
    parent_id: int | None = None  # Job_TransformGIM -> the Job_ExtractICON run of its ETL cycle


def _empty() -> Mapping[Job, RunInfo]:
    return MappingProxyType({})


@dataclass(frozen=True)
class JobsState:
    """The state of the jobs at one instant."""

    running: Mapping[Job, RunInfo] = field(default_factory=_empty)
    scheduled: Mapping[Job, RunInfo] = field(default_factory=_empty)
    # Latest finished run of each job (any starter).
    last_finished: Mapping[Job, RunInfo] = field(default_factory=_empty)

    def is_running(self, job: Job) -> bool:
        return job in self.running

    def others_running(self, job: Job) -> list[Job]:
        return [j for j in self.running if j is not job]


# --- the scheduling engine's memory (issue 3) ---------------------------------


class CycleStage(StrEnum):
    """Where the latest scheduler-started ETL cycle is (rule 2)."""

    IDLE = "idle"  # no cycle in progress: the last one ended (or none ever ran)
    EXTRACT = "extract"  # Job_ExtractICON started; Job_TransformGIM not started yet
    TRANSFORM = "transform"  # Job_TransformGIM started; the cycle ends when it stops running


@dataclass(frozen=True)
class SchedulerMemory:
    """What the scheduler remembers between ticks, beyond the job runs themselves.

    The live adapter persists it in one row (to_dict/from_dict, JSON-safe) in
    the same transaction as the decisions it applies, so a restart continues
    where it stopped: no cycle, maintenance or cron tick is repeated. The
    engine's `advance(memory, decisions, now)` is the only writer.
    """

    # Instant of the last tick the engine decided at. Cron fire times in
    # (last_tick, now] are due at the next tick, coalesced into one (rule 9/10).
    last_tick: datetime | None = None
    # Rule 4: start of the latest scheduler-started ETL cycle (its extraction).
    cycle_started_at: datetime | None = None
    cycle_stage: CycleStage = CycleStage.IDLE
    # Rule 2: the completed Job_ExtractICON run whose Job_TransformGIM is due or started.
    cycle_extract_id: int | None = None
    # Rules 5 and 13: the local day whose maintenance was started or skipped.
    maintenance_day: date | None = None
    # Last cron fire time consumed (started, skipped or refused) per cron job; informative.
    last_fire: Mapping[Job, datetime] = field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "last_tick": _iso(self.last_tick),
            "cycle_started_at": _iso(self.cycle_started_at),
            "cycle_stage": self.cycle_stage.value,
            "cycle_extract_id": self.cycle_extract_id,
            "maintenance_day": self.maintenance_day.isoformat() if self.maintenance_day else None,
            "last_fire": {job.value: t.isoformat() for job, t in self.last_fire.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SchedulerMemory:
        """Inverse of to_dict; an empty or missing row is a fresh memory."""
        if not data:
            return cls()
        day = data.get("maintenance_day")
        return cls(
            last_tick=_parse(data.get("last_tick")),
            cycle_started_at=_parse(data.get("cycle_started_at")),
            cycle_stage=CycleStage(data.get("cycle_stage") or CycleStage.IDLE),
            cycle_extract_id=data.get("cycle_extract_id"),
            maintenance_day=date.fromisoformat(day) if day else None,
            last_fire=MappingProxyType(
                {Job(k): _parse_required(v) for k, v in (data.get("last_fire") or {}).items()}),
        )


@dataclass(frozen=True)
class SchedulerState:
    """Everything the engine reads besides the options and the clock."""

    jobs: JobsState = field(default_factory=JobsState)
    memory: SchedulerMemory = field(default_factory=SchedulerMemory)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _parse(s: str | None) -> datetime | None:
    return _parse_required(s) if s else None


def _parse_required(s: str) -> datetime:
    t = datetime.fromisoformat(s)
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {s!r} in scheduler memory")
    return t.astimezone(UTC)
