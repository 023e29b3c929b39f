"""Names shared by every layer: the six Genesys jobs and the run statuses.

Pure module (no Django, no Celery) so the scheduling engine can import it.
"""

from __future__ import annotations

from enum import StrEnum


class Job(StrEnum):
    EXTRACT = "Job_ExtractICON"
    TRANSFORM = "Job_TransformGIM"
    AGGREGATE = "Job_AggregateGIM"
    MAINTAIN = "Job_MaintainGIM"
    UPDATE_STATS = "Job_UpdateStats"
    EXPORT = "Job_ExportGIM"


class Status(StrEnum):
    # As shown by Genesys Info Mart Manager, plus STOPPED (a project decision:
    # a run stopped or cancelled by a user or by the scheduler).
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


ACTIVE_STATUSES = frozenset({Status.SCHEDULED, Status.RUNNING})
TERMINAL_STATUSES = frozenset({Status.COMPLETE, Status.FAILED, Status.STOPPED})
ETL_JOBS = (Job.EXTRACT, Job.TRANSFORM)

# Seed: "You cannot use Genesys Info Mart Manager to run Job_UpdateStats or Job_ExportGIM."
NOT_RUNNABLE_BY_HAND: dict[Job, str] = {
    Job.UPDATE_STATS: "Job_UpdateStats cannot be run from the Manager: it runs only on "
    "the update-stats-schedule when run-update-stats is true.",
    Job.EXPORT: "Job_ExportGIM cannot be run from the Manager: it runs only on the "
    "export-schedule when run-export is true.",
}

JOB_DESCRIPTIONS: dict[Job, str] = {
    Job.EXTRACT: "Extracts new and changed rows from the Interaction Database into GIDB staging.",
    Job.TRANSFORM: "Transforms staged rows into Info Mart dimensions and facts.",
    Job.AGGREGATE: "Keeps the aggregate (AG2/AGT) tables up to date; runs continuously.",
    Job.MAINTAIN: "Purges expired data, tops up the calendar, maintains partitions.",
    Job.UPDATE_STATS: "Refreshes database planner statistics of changed tables.",
    Job.EXPORT: "Exports new Info Mart data to CSV files.",
}


def parse_job(name: str) -> Job:
    """Job by its Genesys name (case-insensitive); ValueError names the valid ones."""
    for job in Job:
        if job.value.lower() == name.strip().lower():
            return job
    valid = ", ".join(j.value for j in Job)
    raise ValueError(f"unknown job {name!r}; expected one of {valid}")
