"""The live scheduler: a Celery beat scheduler class that drives the pure engine.

    celery -A gimmanager.celery beat -S scheduler.beat:GimScheduler

It keeps no in-memory schedule. Each tick (about once a second):
 1. take or renew the lease: only the holder acts, so two beat processes
    started by mistake never start a job twice;
 2. sweep: fail runs whose worker is lost, force overdue stops, start
    SCHEDULED requests whose job has ended (done even while run-scheduler is
    false: it is housekeeping, not scheduling);
 3. in one transaction: read the options, run the configuration check, build
    the jobs snapshot, load the engine's memory, `decide`, carry out the
    decisions through the job-control service, record every decision that was
    not a plain start, and save the advanced memory. Runs, records and memory
    commit together, so a crash between them cannot lose or double a run;
 4. return the delay until the next instant a decision could change (at most
    one second).
After a restart the memory row and the job history are all the state there
is, so nothing is repeated and missed cron ticks are coalesced by the engine.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta
from typing import Any

from celery.beat import Scheduler
from django.db import close_old_connections, transaction
from django.db.models import Q

from gimmanager.clock import Clock, SystemClock
from gimmanager.config.services import blocking_errors, configuration_problems, current_values, job_errors
from gimmanager.jobs import services
from gimmanager.options import ScheduleOptions
from scheduler import engine
from scheduler.engine import Action, Decision
from scheduler.models import SchedulerDecision, SchedulerLease, SchedulerMemory
from scheduler.state import SchedulerMemory as Memory
from scheduler.state import SchedulerState

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=10)
MAX_SLEEP = 1.0


class GimScheduler(Scheduler):
    """Celery's small `tick()` contract around `run_once(now)`."""

    def __init__(self, *args: Any, clock: Clock | None = None, holder: str | None = None, **kwargs: Any):
        self.clock = clock or SystemClock()
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        super().__init__(*args, **kwargs)

    # Celery's interface -------------------------------------------------------
    def setup_schedule(self) -> None:
        """No entries: what runs when is decided by the engine, not a static table."""

    def tick(self, *args: Any, **kwargs: Any) -> float:
        close_old_connections()
        try:
            return self.run_once(self.clock.now())
        except Exception:
            # Database or broker down: say so and try again shortly; the next
            # tick rebuilds everything from the database.
            log.exception("scheduler tick failed")
            close_old_connections()
            return 2.0

    @property
    def info(self) -> str:
        return f"    . GIM scheduler (engine: scheduler.engine.decide; lease holder id {self.holder})"

    # One step -------------------------------------------------------------------
    def run_once(self, now: datetime) -> float:
        """One tick at `now`; returns seconds until the next one."""
        if not self.take_lease(now):
            return MAX_SLEEP  # another scheduler acts; stand by
        for line in services.sweep(now):
            log.info("sweep: %s", line)
        with transaction.atomic():
            # The lease row lock serializes schedulers even if two believed they held it.
            lease = SchedulerLease.objects.select_for_update().get(pk=1)
            if lease.holder != self.holder:
                return MAX_SLEEP
            values = current_values()
            problems = configuration_problems(values)
            errors = tuple(blocking_errors(problems))
            opts = ScheduleOptions.from_values(values)
            jobs = services.jobs_state()
            row, _ = SchedulerMemory.objects.select_for_update().get_or_create(pk=1)
            memory = (Memory.from_dict(row.data) if row.data
                      else engine.bootstrap_memory(opts, jobs, now))
            state = SchedulerState(jobs=jobs, memory=memory)
            decisions = engine.decide(opts, now, state, errors, job_errors(problems))
            # A START the database refused did not happen: leaving it out of the
            # memory makes the next tick decide it again instead of forgetting it.
            done = [d for d in decisions if self.carry_out(d, now)]
            row.data = engine.advance(memory, done, now).to_dict()
            row.updated_at = now
            row.save()
            wake = engine.next_wakeup(opts, now, state)
        return max(0.05, min(MAX_SLEEP, (wake - now).total_seconds()))

    def take_lease(self, now: datetime) -> bool:
        SchedulerLease.objects.get_or_create(pk=1)
        return bool(SchedulerLease.objects.filter(
            Q(holder=self.holder) | Q(expires_at__isnull=True) | Q(expires_at__lt=now), pk=1,
        ).update(holder=self.holder, expires_at=now + LEASE, renewed_at=now))

    # No close() override that touches the database: Celery beat calls close()
    # from its SIGTERM handler, which can interrupt a query of this tick's open
    # transaction; a second query on that connection then hangs the process with
    # the transaction's locks held. The lease simply expires (LEASE) instead.

    def carry_out(self, decision: Decision, now: datetime) -> bool:
        """Apply one decision through the job-control service; False if it could not take effect."""
        if decision.action is Action.START:
            out = services.start_for_scheduler(decision.job, now=now, reason=decision.reason,
                                               parent_id=decision.cycle_parent_id)
            if out.ok:
                return True
            record_decision(Decision(Action.REFUSE, decision.job, 1, out.message), now)
            return False
        if decision.action is Action.STOP and decision.run_id is not None:
            services.stop_run(decision.run_id, by=services.SCHEDULER, now=now,
                              reason=f"stopped by the scheduler: {decision.reason}")
        record_decision(decision, now)
        return True


def record_decision(decision: Decision, now: datetime) -> SchedulerDecision:
    """Store a non-start decision; an identical repeat (a wait that lasts) updates the last one."""
    last = SchedulerDecision.objects.filter(job=decision.job.value).order_by("-last_at", "-id").first()
    if (last is not None and last.action == decision.action.value and last.reason == decision.reason
            and last.rule == decision.rule):
        SchedulerDecision.objects.filter(pk=last.pk).update(last_at=now, count=last.count + 1)
        return last
    return SchedulerDecision.objects.create(
        at=now, last_at=now, job=decision.job.value, action=decision.action.value, rule=decision.rule,
        reason=decision.reason, run_id=decision.run_id)
