"""Executes one JobRun on a worker: claim, heartbeat, body, final status.

1. Claim the run: `UPDATE ... SET attempt = <new uuid> WHERE status = 'RUNNING'
   AND attempt IS NULL`. A redelivered or duplicated broker message finds the
   run claimed (or ended) and does nothing: the row is the lock, not the message.
2. Re-run the configuration check; on an error the run fails with the reason.
3. A heartbeat thread renews `heartbeat_at` every GIM_HEARTBEAT_INTERVAL
   seconds, writes buffered log lines and progress, and notices stop requests.
   If it can no longer renew (the run was declared lost, or the database is
   unreachable for longer than the timeout) it tells the body to stop: a
   zombie never works on beside its replacement.
4. Run the body; COMPLETE, STOPPED or FAILED is written by a guarded update
   that only this attempt can make.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connection

from gimmanager import clock
from gimmanager.catalog import Job, Status
from gimmanager.config.services import configuration_errors, current_values
from gimmanager.jobs import services
from gimmanager.jobs.bodies import body_for
from gimmanager.jobs.context import JobContext, RunLost, StopRequested
from gimmanager.jobs.models import JobLogEntry, JobRun

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def execute(run_id: int, worker: str | None = None) -> Status | None:
    """Execute the run if this worker can claim it; returns its final status (None: not claimed)."""
    close_old_connections()
    worker = worker or worker_name()
    attempt = uuid.uuid4()
    now = clock.now()
    claimed = JobRun.objects.filter(pk=run_id, status=Status.RUNNING, attempt__isnull=True).update(
        attempt=attempt, worker=worker, heartbeat_at=now)
    if not claimed:
        log.info("run %s is not waiting for a worker (ended, or claimed by another); message ignored", run_id)
        return None
    run = JobRun.objects.get(pk=run_id)
    values = current_values()
    ctx = JobContext(run_id=run_id, job=Job(run.job), params=run.params, values=values, started_at=run.started_at
                     or now)
    ctx.log(f"{run.job} started on {worker} (requested by {run.requested_by}"
            + (f", parameters: {run.params}" if run.params else "") + ")")
    errors = configuration_errors(values, ctx.job)
    if run.stop_requested_at is not None:
        return _end(ctx, attempt, Status.STOPPED, run.end_reason or "stopped before it began")
    if errors:
        return _end(ctx, attempt, Status.FAILED, "configuration check failed: " + "; ".join(errors))
    heartbeat = Heartbeat(ctx, attempt)
    heartbeat.start()
    status, reason = Status.COMPLETE, ""
    try:
        body_for(ctx.job)(ctx)
        ctx.log(f"{ctx.job} completed")
    except StopRequested as exc:
        status, reason = Status.STOPPED, str(exc) or "stopped"
        ctx.log(f"stopped at a safe point: {reason}; uncommitted work rolled back")
    except RunLost as exc:
        status, reason = Status.FAILED, str(exc)
    except Exception as exc:  # the job failed: record why, in words and with the trace
        status = Status.FAILED
        reason = f"{type(exc).__name__}: {exc}"
        ctx.log("".join(traceback.format_exception(exc)).rstrip(), level="ERROR")
    finally:
        heartbeat.stop()
    return _end(ctx, attempt, status, reason)


def _end(ctx: JobContext, attempt: uuid.UUID, status: Status, reason: str) -> Status:
    _flush(ctx, attempt)
    if not services.finish_run(ctx.run_id, attempt, status, reason=reason):
        final = JobRun.objects.filter(pk=ctx.run_id).values_list("status", flat=True).first()
        log.warning("run %s had already ended as %s; this worker's %s is discarded", ctx.run_id, final, status)
        return Status(final) if final else status
    return status


def _flush(ctx: JobContext, attempt: uuid.UUID, now: datetime | None = None) -> int:
    """Write buffered log lines and progress; renew the heartbeat. Returns rows renewed (0: not ours)."""
    now = now or clock.now()
    lines, progress = ctx.drain()
    if lines:
        JobLogEntry.objects.bulk_create(
            [JobLogEntry(run_id=ctx.run_id, at=at, level=level, message=msg) for at, level, msg in lines])
    changes: dict[str, object] = {"heartbeat_at": now}
    if progress is not None:
        changes.update(progress_done=progress[0], progress_total=progress[1], progress_text=progress[2][:200])
    return JobRun.objects.filter(pk=ctx.run_id, status=Status.RUNNING, attempt=attempt).update(**changes)


class Heartbeat(threading.Thread):
    def __init__(self, ctx: JobContext, attempt: uuid.UUID):
        super().__init__(name=f"heartbeat-{ctx.run_id}", daemon=True)
        self.ctx, self.attempt = ctx, attempt
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)

    def run(self) -> None:
        interval = settings.GIM_HEARTBEAT_INTERVAL
        last_ok = clock.now()
        try:
            while not self._halt.wait(interval):
                now = clock.now()
                try:
                    renewed = _flush(self.ctx, self.attempt, now)
                    last_ok = now
                except Exception:  # database unreachable: keep trying until the timeout
                    log.exception("heartbeat of run %s failed", self.ctx.run_id)
                    close_old_connections()
                    if (now - last_ok).total_seconds() > settings.GIM_HEARTBEAT_TIMEOUT:
                        self.ctx.request_stop("lost the database for longer than the heartbeat timeout",
                                              lost=True)
                    continue
                if not renewed:
                    self.ctx.request_stop("the run was ended elsewhere (declared lost or stopped by force)",
                                          lost=True)
                    return
                row = JobRun.objects.filter(pk=self.ctx.run_id).values("stop_requested_at", "end_reason").first()
                if row and row["stop_requested_at"] is not None and not self.ctx.stop_requested:
                    self.ctx.request_stop(row["end_reason"] or "stop requested")
        finally:
            connection.close()
