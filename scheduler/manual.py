"""Rules for jobs run from the Manager (the seed's "Jobs run from Genesys Info
Mart Manager"), as one pure function shared by the job-control service (web
page, API, command line) and the simulator.

Rule numbers follow the foundation issue:
 1. never a second RUNNING instance: the request becomes SCHEDULED (one per job);
 2. Job_TransformGIM may run while Job_ExtractICON runs (no rule needed: allowed);
 3. Job_MaintainGIM by hand is not blocked, but warned about deadlocks;
 4. Job_AggregateGIM by hand only while run-aggregates is false and inside its window;
 5. -insertPendingAgg is handed to a running aggregation, ignored otherwise;
 6. Job_UpdateStats and Job_ExportGIM cannot be run by hand;
 7. stopping a scheduler-owned aggregation is allowed, with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from gimmanager.catalog import NOT_RUNNABLE_BY_HAND, Job, Status
from gimmanager.options import ScheduleOptions
from scheduler import windows
from scheduler.state import JobsState, RunInfo


class Verdict(StrEnum):
    START = "start"  # create a RUNNING run now
    SCHEDULE = "schedule"  # create a SCHEDULED run; it starts when the running one ends
    HAND_OVER = "hand_over"  # pass re-aggregation parameters to the running instance
    STOP = "stop"  # ask the running run to stop
    CANCEL = "cancel"  # cancel a SCHEDULED run
    REFUSE = "refuse"


@dataclass(frozen=True)
class ManualDecision:
    verdict: Verdict
    job: Job
    rule: int
    message: str
    warnings: tuple[str, ...] = field(default=())
    ignore_params: bool = False


MAINTAIN_WARNING = (
    "Job_MaintainGIM is not protected from other jobs when run by hand: to prevent deadlocks, "
    "suspend the ETL schedule (run-scheduler = false) and the Job_UpdateStats schedule first."
)


def decide_run(
    opts: ScheduleOptions,
    now: datetime,
    state: JobsState,
    job: Job,
    *,
    reaggregation: bool = False,
) -> ManualDecision:
    """What a manual Run Job request for `job` does at `now`.

    `reaggregation` says the parameters hold a valid -insertPendingAgg request
    (the caller has parsed them strictly already).
    """
    # Rule 6
    if job in NOT_RUNNABLE_BY_HAND:
        return ManualDecision(Verdict.REFUSE, job, 6, NOT_RUNNABLE_BY_HAND[job])

    if job is Job.AGGREGATE:
        running = state.running.get(Job.AGGREGATE)
        # Rule 5: re-aggregation goes to the running instance, whoever started it.
        if reaggregation and running is not None:
            return ManualDecision(
                Verdict.HAND_OVER, job, 5,
                f"Re-aggregation request handed to the running Job_AggregateGIM (run {running.id}).")
        # Rule 4
        if opts.run_aggregates:
            return ManualDecision(
                Verdict.REFUSE, job, 4,
                "Job_AggregateGIM is run by the scheduler because run-aggregates is true; set "
                "run-aggregates to false to start or stop it by hand.")
        if windows.aggregation_window_at(opts, now) is None:
            return ManualDecision(
                Verdict.REFUSE, job, 4,
                "Job_AggregateGIM cannot run outside its configured window (aggregate-schedule "
                f"'{opts.aggregate_schedule.text}', aggregate-duration "
                f"{_hhmm(opts.aggregate_duration.total_seconds())}).")
        if running is not None:
            return ManualDecision(
                Verdict.REFUSE, job, 1,
                f"Job_AggregateGIM is already running (run {running.id}); it runs continuously.")
        if reaggregation:
            return ManualDecision(
                Verdict.START, job, 5,
                "Aggregation was not running: Job_AggregateGIM starts now and ignores the "
                "re-aggregation parameters. Run it again with the parameters to re-aggregate.",
                ignore_params=True)
        return ManualDecision(Verdict.START, job, 4, "Job_AggregateGIM started; it runs until stopped.")

    warnings: tuple[str, ...] = ()
    if job is Job.MAINTAIN:
        # Rule 3: not blocked, but warned.
        others = state.others_running(job)
        reasons = []
        if opts.run_scheduler:
            reasons.append("the ETL schedule is active")
        if opts.run_scheduler and opts.run_update_stats:
            reasons.append("the Job_UpdateStats schedule is active")
        if others:
            reasons.append("running now: " + ", ".join(j.value for j in others))
        if reasons:
            warnings = (MAINTAIN_WARNING + " (" + "; ".join(reasons) + ")",)

    # Rule 1
    if job in state.running:
        if job in state.scheduled:
            return ManualDecision(
                Verdict.REFUSE, job, 1,
                f"{job.value} is running (run {state.running[job].id}) and another request is "
                f"already SCHEDULED (run {state.scheduled[job].id}).")
        return ManualDecision(
            Verdict.SCHEDULE, job, 1,
            f"{job.value} is already running (run {state.running[job].id}); this request is "
            "SCHEDULED and starts when that run ends.", warnings)
    return ManualDecision(Verdict.START, job, 2 if job is Job.TRANSFORM else 1,
                          f"{job.value} started.", warnings)


def decide_stop(opts: ScheduleOptions, now: datetime, run: RunInfo) -> ManualDecision:
    """What Stop Job on `run` does: stop a RUNNING run, cancel a SCHEDULED one."""
    if run.status is Status.SCHEDULED:
        return ManualDecision(Verdict.CANCEL, run.job, 1, f"Scheduled {run.job.value} (run {run.id}) cancelled.")
    if run.status is not Status.RUNNING:
        return ManualDecision(Verdict.REFUSE, run.job, 1,
                              f"Run {run.id} of {run.job.value} is {run.status.value}; only RUNNING or "
                              "SCHEDULED runs can be stopped.")
    warnings: tuple[str, ...] = ()
    if run.job is Job.AGGREGATE and opts.run_aggregates and opts.run_scheduler and (
        windows.aggregation_window_at(opts, now) is not None
    ):
        # Rule 7
        warnings = ("run-aggregates is true and this is inside the aggregation window: the scheduler "
                    "will restart Job_AggregateGIM almost at once. Set run-aggregates to false first "
                    "to keep it stopped.",)
    if run.stop_requested:
        return ManualDecision(Verdict.STOP, run.job, 7 if warnings else 1,
                              f"{run.job.value} (run {run.id}) is already stopping.", warnings)
    return ManualDecision(Verdict.STOP, run.job, 7 if warnings else 1,
                          f"{run.job.value} (run {run.id}) is stopping.", warnings)


def _hhmm(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
