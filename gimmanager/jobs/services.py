"""Job control: the only code that creates JobRun rows, changes their status
or talks to Celery. The console, the API, `gim_job` and the scheduler all go
through these functions, so every interface obeys the same rules.

Every status change is a guarded UPDATE (`WHERE status = <expected>`), and
the partial unique indexes on JobRun make a second RUNNING or SCHEDULED row
of a job impossible however callers race.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from kombu.exceptions import OperationalError as KombuOperationalError

from gimmanager import clock, reagg
from gimmanager.catalog import Job, Status
from gimmanager.config.services import configuration_errors, current_values
from gimmanager.jobs.models import JobLogEntry, JobRun, ReaggregationRequest
from gimmanager.options import ScheduleOptions
from scheduler import manual
from scheduler.manual import Verdict
from scheduler.state import JobsState, RunInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Requester:
    """Who asks: a user (through the console, API or CLI) or the scheduler."""

    label: str
    by: str  # JobRun.By
    via: str  # console, api, cli, scheduler
    user: Any = None

    @classmethod
    def of_user(cls, user: Any, via: str) -> Requester:
        return cls(label=user.get_username(), by=JobRun.By.MANUAL, via=via, user=user)

    @classmethod
    def cli(cls, name: str) -> Requester:
        return cls(label=name, by=JobRun.By.MANUAL, via="cli")


SCHEDULER = Requester(label="scheduler", by=JobRun.By.SCHEDULER, via="scheduler")


@dataclass(frozen=True)
class Outcome:
    """The answer to a request, in words for the user."""

    kind: str  # started | scheduled | handed_over | refused | stopping | cancelled
    message: str
    run: JobRun | None = None
    warnings: tuple[str, ...] = ()
    rule: int | None = None

    @property
    def ok(self) -> bool:
        return self.kind != "refused"


def refused(message: str, rule: int | None = None) -> Outcome:
    return Outcome("refused", message, rule=rule)


# --- state snapshots for the pure rules ----------------------------------------


def run_info(run: JobRun) -> RunInfo:
    return RunInfo(
        id=run.pk, job=Job(run.job), status=Status(run.status), by=run.by,
        requested_at=run.requested_at, started_at=run.started_at, ended_at=run.ended_at,
        params=run.params, stop_requested=run.stop_requested_at is not None, parent_id=run.parent_id,
    )


def jobs_state() -> JobsState:
    """Running and scheduled runs, and the latest finished run of each job.

    Seven small indexed queries, independent of the history's size.
    """
    running: dict[Job, RunInfo] = {}
    scheduled: dict[Job, RunInfo] = {}
    for run in JobRun.objects.filter(status__in=[Status.RUNNING, Status.SCHEDULED]):
        (running if run.status == Status.RUNNING else scheduled)[Job(run.job)] = run_info(run)
    last: dict[Job, RunInfo] = {}
    for job in Job:
        run = (JobRun.objects.filter(job=job, status__in=[Status.COMPLETE, Status.FAILED, Status.STOPPED],
                                     started_at__isnull=False)
               .order_by("-requested_at", "-id").first())
        if run is not None:
            last[job] = run_info(run)
    return JobsState(running=running, scheduled=scheduled, last_finished=last)


# --- requests ----------------------------------------------------------------


def request_run(job: Job, *, by: Requester, params: str = "", now: datetime | None = None) -> Outcome:
    """Run Job from the Manager (console, API, CLI): manual rules 1-7."""
    now = now or clock.now()
    params = params.strip()
    reaggregation = None
    if params:
        if job is not Job.AGGREGATE:
            return refused(f"Job Parameters: {job.value} takes no parameters "
                           f"(only Job_AggregateGIM takes {reagg.FLAG}).")
        try:
            reaggregation = reagg.parse(params)
        except ValueError as exc:
            return refused(str(exc), rule=5)
    values = current_values()
    errors = configuration_errors(values, job)
    if errors:
        return refused(f"The configuration check found errors, so {job.value} cannot start: " + "; ".join(errors))
    opts = ScheduleOptions.from_values(values)
    for _ in range(3):
        try:
            with transaction.atomic():
                decision = manual.decide_run(opts, now, jobs_state(), job, reaggregation=reaggregation is not None)
                outcome = _carry_out(decision, by=by, params=params, reaggregation=reaggregation, now=now)
            return _answer_after_send(outcome)
        except IntegrityError:
            # Someone else started or scheduled this job between our read and our
            # insert: decide again on the fresh state (it becomes SCHEDULED or refused).
            continue
    # Still losing the race under a burst: answer, never raise.
    return refused(f"{job.value} is being started or scheduled by other requests right now; try again.", rule=1)


def _carry_out(decision: manual.ManualDecision, *, by: Requester, params: str,
               reaggregation: reagg.Reaggregation | None, now: datetime) -> Outcome:
    job = decision.job
    if decision.verdict is Verdict.REFUSE:
        return refused(decision.message, decision.rule)
    if decision.verdict is Verdict.HAND_OVER:
        assert reaggregation is not None
        target = JobRun.objects.select_for_update().get(job=job, status=Status.RUNNING)
        ReaggregationRequest.objects.create(
            run=target, params=reaggregation.as_param(), agg_set=reaggregation.agg_set,
            start_date=reaggregation.start, end_date=reaggregation.end,
            requested_by=by.label, requested_at=now)
        JobLogEntry.objects.create(run=target, at=now, message=f"{by.label} asked to re-aggregate: "
                                   f"{reaggregation.as_param()}")
        return Outcome("handed_over", decision.message, target, decision.warnings, decision.rule)
    note = " ".join((decision.message if decision.ignore_params else "",) + decision.warnings).strip()
    run_params = "" if decision.ignore_params else params
    if decision.verdict is Verdict.SCHEDULE:
        with transaction.atomic():
            run = JobRun.objects.create(job=job, status=Status.SCHEDULED, by=by.by, requested_by=by.label,
                                        user=by.user, params=run_params, note=note, requested_at=now)
        return Outcome("scheduled", decision.message, run, decision.warnings, decision.rule)
    run = _create_running(job, by=by, params=run_params, note=note, now=now)
    return Outcome("started", decision.message, run, decision.warnings, decision.rule)


def start_for_scheduler(job: Job, *, now: datetime, reason: str = "", parent_id: int | None = None) -> Outcome:
    """Start a job the scheduling engine decided to start. The engine has applied
    the scheduler's rules; the database still guarantees one RUNNING instance."""
    try:
        run = _create_running(job, by=SCHEDULER, params="", note=reason, now=now, parent_id=parent_id)
    except IntegrityError:
        return refused(f"{job.value} is already running.", rule=1)
    return Outcome("started", f"{job.value} started by the scheduler.", run)


def _create_running(job: Job, *, by: Requester, params: str, note: str, now: datetime,
                    parent_id: int | None = None) -> JobRun:
    with transaction.atomic():
        run = JobRun.objects.create(
            job=job, status=Status.RUNNING, by=by.by, requested_by=by.label, user=by.user, params=params,
            note=note, requested_at=now, started_at=now, parent_id=parent_id,
            celery_task_id=str(uuid.uuid4()))
        _enqueue_on_commit(run)
    return run


def _enqueue_on_commit(run: JobRun) -> None:
    from gimmanager.jobs.tasks import run_job

    run_id, task_id = run.pk, run.celery_task_id

    def send() -> None:
        try:
            run_job.apply_async((run_id,), task_id=task_id)
        except Exception as exc:  # kombu's OperationalError when the broker is down, or any send failure
            _fail_unsent(run_id, exc)

    transaction.on_commit(send)


def _fail_unsent(run_id: int, exc: Exception) -> None:
    """The run's message could not be sent: end the run FAILED now, with the reason, rather
    than leave it RUNNING until the pickup timeout (no worker will ever hear of it)."""
    what = "the message broker is not reachable" if isinstance(exc, KombuOperationalError) else (
        "the job could not be handed to a worker")
    reason = f"{what}: {exc}; the job was not started"
    log.error("run %s: %s", run_id, reason)
    # attempt=None: only a run no worker has claimed (a send that failed late may still have arrived).
    if finish_run(run_id, None, Status.FAILED, reason=reason):
        JobLogEntry.objects.create(run_id=run_id, at=clock.now(), level="ERROR", message=reason)


def _answer_after_send(outcome: Outcome) -> Outcome:
    """A started run whose message could not be sent is FAILED by now (the send runs at the
    commit, just before this): answer with that, not "started"."""
    run = outcome.run
    if outcome.kind != "started" or run is None or transaction.get_connection().in_atomic_block:
        return outcome
    run.refresh_from_db()
    if run.status != Status.FAILED or run.attempt is not None:  # claimed: a worker ran it
        return outcome
    return Outcome("refused", f"{run.end_reason[:1].upper()}{run.end_reason[1:]} (run {run.pk} ended FAILED).",
                   run, outcome.warnings, outcome.rule)


# --- stop and cancel -----------------------------------------------------------


def stop_run(run_id: int, *, by: Requester, now: datetime | None = None, reason: str = "") -> Outcome:
    """Stop Job: a RUNNING run is asked to stop, a SCHEDULED one is cancelled."""
    now = now or clock.now()
    run = JobRun.objects.filter(pk=run_id).first()
    if run is None:
        return refused(f"There is no job run {run_id}.")
    opts = ScheduleOptions.from_values(current_values())
    decision = manual.decide_stop(opts, now, run_info(run))
    if decision.verdict is Verdict.CANCEL:
        return cancel_run(run_id, by=by, now=now)
    if decision.verdict is Verdict.REFUSE:
        return refused(decision.message, decision.rule)
    why = reason or f"stopped by {by.label}"
    # A run no worker has claimed yet stops at once; the worker will find it ended.
    if JobRun.objects.filter(pk=run_id, status=Status.RUNNING, attempt__isnull=True).update(
        status=Status.STOPPED, ended_at=now, stop_requested_at=now, stop_requested_by=by.label, end_reason=why
    ):
        _revoke(run.celery_task_id, terminate=False)
        promote_scheduled(Job(run.job), now=now)
        run.refresh_from_db()
        return Outcome("stopping", f"{run.job} (run {run_id}) stopped before it began.", run,
                       decision.warnings, decision.rule)
    JobRun.objects.filter(pk=run_id, status=Status.RUNNING, stop_requested_at__isnull=True).update(
        stop_requested_at=now, stop_requested_by=by.label, end_reason=why)
    run.refresh_from_db()
    return Outcome("stopping", decision.message, run, decision.warnings, decision.rule)


def stop_job(job: Job, *, by: Requester, now: datetime | None = None, reason: str = "") -> Outcome:
    """Stop the RUNNING instance of a job (or cancel its SCHEDULED request if none runs)."""
    run = (JobRun.objects.filter(job=job, status=Status.RUNNING).first()
           or JobRun.objects.filter(job=job, status=Status.SCHEDULED).first())
    if run is None:
        return refused(f"{job.value} is neither running nor scheduled.")
    return stop_run(run.pk, by=by, now=now, reason=reason)


def cancel_run(run_id: int, *, by: Requester, now: datetime | None = None) -> Outcome:
    """Cancel a SCHEDULED run: it leaves the pending list; the history keeps who cancelled it."""
    now = now or clock.now()
    if JobRun.objects.filter(pk=run_id, status=Status.SCHEDULED).update(
        status=Status.STOPPED, ended_at=now, stop_requested_at=now, stop_requested_by=by.label,
        end_reason=f"cancelled by {by.label} before it started",
    ):
        run = JobRun.objects.get(pk=run_id)
        return Outcome("cancelled", f"Scheduled {run.job} (run {run_id}) cancelled.", run)
    run = JobRun.objects.filter(pk=run_id).first()
    if run is None:
        return refused(f"There is no job run {run_id}.")
    return refused(f"Run {run_id} of {run.job} is {run.status}; only a SCHEDULED run can be cancelled.")


# --- the runner's side -----------------------------------------------------------


def finish_run(run_id: int, attempt: uuid.UUID | None, status: Status, *, reason: str = "",
               now: datetime | None = None) -> bool:
    """Record a run's end, if this attempt still owns it (None: if no worker claimed it);
    then start the job's SCHEDULED request.

    Returns False when the run had already ended (stopped by force, declared
    lost): terminal states are final, so a late COMPLETE never overwrites them.
    """
    now = now or clock.now()
    with transaction.atomic():
        changes: dict[str, Any] = {"status": status, "ended_at": now}
        if reason:
            changes["end_reason"] = reason
        done = JobRun.objects.filter(pk=run_id, status=Status.RUNNING, attempt=attempt).update(**changes)
        if done:
            job = Job(JobRun.objects.values_list("job", flat=True).get(pk=run_id))
            promote_scheduled(job, now=now)
    return bool(done)


def promote_scheduled(job: Job, *, now: datetime) -> JobRun | None:
    """Start the job's SCHEDULED request if no instance of the job is RUNNING (manual rule 1)."""
    with transaction.atomic():
        run = JobRun.objects.select_for_update().filter(job=job, status=Status.SCHEDULED).first()
        if run is None or JobRun.objects.filter(job=job, status=Status.RUNNING).exists():
            return None
        try:
            with transaction.atomic():
                updated = JobRun.objects.filter(pk=run.pk, status=Status.SCHEDULED).update(
                    status=Status.RUNNING, started_at=now, celery_task_id=str(uuid.uuid4()))
        except IntegrityError:
            return None  # another instance started in between; promote on its end
        if not updated:
            return None
        run.refresh_from_db()
        _enqueue_on_commit(run)
    return run


def sweep(now: datetime | None = None) -> list[str]:
    """Housekeeping run on every scheduler tick (and by `gim_job sweep`).

    1. RUNNING runs whose worker stopped sending heartbeats become FAILED.
    2. RUNNING runs no worker picked up in time become FAILED.
    3. Stops that were not honoured within the grace period are forced:
       the worker process is terminated and the run marked STOPPED.
    4. SCHEDULED requests whose job is no longer running are started.
    Returns a line per action, for logs.
    """
    now = now or clock.now()
    done: list[str] = []
    timeout = timedelta(seconds=settings.GIM_HEARTBEAT_TIMEOUT)
    for run in JobRun.objects.filter(status=Status.RUNNING, attempt__isnull=False,
                                     heartbeat_at__lt=now - timeout):
        reason = (f"worker {run.worker or '?'} stopped sending heartbeats (none for "
                  f"{settings.GIM_HEARTBEAT_TIMEOUT:g} s): the worker died or lost the database")
        if run.stop_requested_at is not None:
            status, reason = Status.STOPPED, f"{run.end_reason or 'stopped'}; {reason}"
        else:
            status = Status.FAILED
        if JobRun.objects.filter(pk=run.pk, status=Status.RUNNING, heartbeat_at=run.heartbeat_at).update(
            status=status, ended_at=now, end_reason=reason
        ):
            JobLogEntry.objects.create(run=run, at=now, level="ERROR", message=reason)
            done.append(f"{run}: {reason}")
    pickup = timedelta(seconds=settings.GIM_PICKUP_TIMEOUT)
    for run in JobRun.objects.filter(status=Status.RUNNING, attempt__isnull=True, started_at__lt=now - pickup):
        reason = f"no worker picked the run up within {settings.GIM_PICKUP_TIMEOUT:g} s (is a worker running?)"
        if JobRun.objects.filter(pk=run.pk, status=Status.RUNNING, attempt__isnull=True).update(
            status=Status.FAILED, ended_at=now, end_reason=reason
        ):
            _revoke(run.celery_task_id, terminate=False)
            done.append(f"{run}: {reason}")
    grace = timedelta(seconds=settings.GIM_STOP_GRACE)
    for run in JobRun.objects.filter(status=Status.RUNNING, stop_requested_at__lt=now - grace):
        reason = (f"{run.end_reason or 'stopped'}; it did not stop within {settings.GIM_STOP_GRACE:g} s, "
                  "so its worker process was terminated (its open transaction rolled back)")
        if JobRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(
            status=Status.STOPPED, ended_at=now, end_reason=reason
        ):
            _revoke(run.celery_task_id, terminate=True)
            JobLogEntry.objects.create(run=run, at=now, level="WARNING", message=reason)
            done.append(f"{run}: {reason}")
    for job in JobRun.objects.filter(status=Status.SCHEDULED).values_list("job", flat=True):
        promoted = promote_scheduled(Job(job), now=now)
        if promoted is not None:
            done.append(f"{promoted}: started (the job it waited for has ended)")
    return done


def _revoke(task_id: str, *, terminate: bool) -> None:
    if not task_id:
        return
    from gimmanager.celery import app

    try:
        if terminate:
            app.control.revoke(task_id, terminate=True, signal="SIGTERM")
        else:
            app.control.revoke(task_id)
    except Exception:  # broker down: the run row is already final, which is what counts
        log.exception("could not revoke task %s", task_id)


def active_runs() -> list[JobRun]:
    return list(JobRun.objects.filter(status__in=[Status.RUNNING, Status.SCHEDULED]).order_by("requested_at"))
