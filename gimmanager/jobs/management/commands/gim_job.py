"""Run, stop, cancel and list jobs from scripts, through the same service as the console.

    gim_job run JOB [--params "..."] [--wait] [--timeout S]
    gim_job stop ID|JOB
    gim_job cancel ID
    gim_job list [--status S] [--job J] [--limit N] [--json]
    gim_job sweep
"""

from __future__ import annotations

import getpass
import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gimmanager import clock
from gimmanager.catalog import TERMINAL_STATUSES, Job, Status, parse_job
from gimmanager.jobs import services
from gimmanager.jobs.models import JobRun


class Command(BaseCommand):
    help = "Control Genesys Info Mart jobs (same rules as the Manager console)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="run a job now (or SCHEDULED if it is running)")
        run.add_argument("job")
        run.add_argument("--params", default="", help='job parameters, e.g. "-insertPendingAgg ALLSETS:2026-05-01:2026-05-02"')
        run.add_argument("--wait", action="store_true", help="block until the run ends; exit 0 only if COMPLETE")
        run.add_argument("--timeout", type=float, default=None, help="give up waiting after S seconds (exit 3)")
        stop = sub.add_parser("stop", help="stop a RUNNING run, or cancel a SCHEDULED one")
        stop.add_argument("target", help="run id or job name")
        cancel = sub.add_parser("cancel", help="cancel a SCHEDULED run")
        cancel.add_argument("id", type=int)
        ls = sub.add_parser("list", help="the job history, newest first")
        ls.add_argument("--status", choices=[s.value for s in Status])
        ls.add_argument("--job")
        ls.add_argument("--limit", type=int, default=50)
        ls.add_argument("--json", action="store_true")
        sub.add_parser("sweep", help="fail lost runs, force overdue stops, start waiting requests")

    def handle(self, *args: Any, **opts: Any) -> None:
        by = services.Requester.cli(f"cli:{getpass.getuser()}")
        action = opts["action"]
        if action == "run":
            out = services.request_run(self._job(opts["job"]), by=by, params=opts["params"])
            self._say(out)
            if opts["wait"] and out.run is not None and out.kind in ("started", "scheduled"):
                self._wait(out.run.pk, opts["timeout"])
        elif action == "stop":
            target = opts["target"]
            out = (services.stop_run(int(target), by=by) if target.isdigit()
                   else services.stop_job(self._job(target), by=by))
            self._say(out)
        elif action == "cancel":
            self._say(services.cancel_run(opts["id"], by=by))
        elif action == "list":
            self._list(opts)
        else:
            for line in services.sweep():
                self.stdout.write(line)

    def _job(self, name: str) -> Job:
        try:
            return parse_job(name)
        except ValueError as exc:
            raise CommandError(str(exc)) from None

    def _say(self, out: services.Outcome) -> None:
        for w in out.warnings:
            self.stderr.write(f"warning: {w}")
        if not out.ok:
            raise CommandError(f"refused: {out.message}")
        run = f" (run {out.run.pk})" if out.run is not None else ""
        self.stdout.write(f"{out.kind}{run}: {out.message}")

    def _wait(self, run_id: int, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = JobRun.objects.get(pk=run_id)
            if run.status in TERMINAL_STATUSES:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise CommandError(f"run {run_id} is still {run.status} after {timeout:g} s", returncode=3)
            time.sleep(0.5)  # polling an external worker's progress, not doing work
        self.stdout.write(f"run {run_id}: {run.status}" + (f" ({run.end_reason})" if run.end_reason else ""))
        if run.status != Status.COMPLETE:
            raise CommandError(f"run {run_id} ended {run.status}: {run.end_reason or 'no reason recorded'}",
                               returncode=2)

    def _list(self, opts: dict[str, Any]) -> None:
        qs = JobRun.objects.all()
        if opts["status"]:
            qs = qs.filter(status=opts["status"])
        if opts["job"]:
            qs = qs.filter(job=self._job(opts["job"]))
        now = clock.now()
        rows = [
            {"id": r.pk, "job": r.job, "status": r.status, "by": r.requested_by, "params": r.params,
             "requested_at": r.requested_at.isoformat(),
             "started_at": r.started_at.isoformat() if r.started_at else None,
             "ended_at": r.ended_at.isoformat() if r.ended_at else None,
             "duration_s": (d.total_seconds() if (d := r.duration(now)) is not None else None),
             "progress": [r.progress_done, r.progress_total], "reason": r.end_reason}
            for r in qs[: max(1, opts["limit"])]
        ]
        if opts["json"]:
            self.stdout.write(json.dumps(rows, indent=1))
            return
        for r in rows:
            dur = "" if r["duration_s"] is None else f"{r['duration_s']:.0f}s"
            self.stdout.write(f"{r['id']:>7}  {r['job']:<17} {r['status']:<9} {dur:>7}  "
                              f"{r['started_at'] or r['requested_at']}  {r['by']}  {r['params']}")
