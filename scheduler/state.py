"""Snapshots of job state handed to the pure rules (engine and manual control).

Adapters build these from a few indexed queries; the rules never see the ORM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Mapping

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
