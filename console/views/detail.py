"""Job detail: status, progress, the log (live while the run is active), timings,
reasons, re-aggregation requests and the run's place in its ETL cycle."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseStopPolling

from console.views.common import base_context, get_run, local_zone, render_page, signed_in
from gimmanager import clock
from gimmanager.catalog import ACTIVE_STATUSES, Status
from gimmanager.jobs.models import JobLogEntry, JobRun

LOG_TAIL = 1000  # lines shown on the page; the whole log is at log.txt
LIVE_BATCH = 500  # new lines sent per poll at most
POLL_SECONDS = 2


def progress_of(run: JobRun, now: datetime) -> dict[str, Any]:
    """Percent done and an estimate of the time left, from the rate so far."""
    out: dict[str, Any] = {"done": run.progress_done, "total": run.progress_total, "text": run.progress_text}
    if run.progress_total:
        out["percent"] = min(100, int(100 * run.progress_done / run.progress_total))
        if run.status == Status.RUNNING and run.started_at and 0 < run.progress_done < run.progress_total:
            elapsed = (now - run.started_at).total_seconds()
            left = elapsed * (run.progress_total - run.progress_done) / run.progress_done
            out["left"] = timedelta(seconds=int(left))
    return out


def _summary_context(run: JobRun, now: datetime) -> dict[str, Any]:
    return {"run": run, "progress": progress_of(run, now), "duration": run.duration(now),
            "active": run.status in ACTIVE_STATUSES,
            "heartbeat_age": (now - run.heartbeat_at) if run.heartbeat_at and run.status == Status.RUNNING else None}


@signed_in
@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_run(pk)
    now = clock.now()
    lines = list(run.log_entries.order_by("-id")[:LOG_TAIL])[::-1]
    total_lines = run.log_entries.count() if len(lines) == LOG_TAIL else len(lines)
    same_job = JobRun.objects.filter(job=run.job)
    ctx = base_context(
        request, now=now, lines=lines, omitted=total_lines - len(lines),
        last_log_id=lines[-1].pk if lines else 0,
        children=list(JobRun.objects.filter(parent=run).order_by("requested_at", "id")),
        previous=same_job.filter(requested_at__lte=run.requested_at, id__lt=run.pk)
        .order_by("-requested_at", "-id").first(),
        following=same_job.filter(requested_at__gte=run.requested_at, id__gt=run.pk)
        .order_by("requested_at", "id").first(),
        reaggregations=list(run.reaggregations.all()),
        poll=POLL_SECONDS, **_summary_context(run, now),
    )
    return render_page(request, "console/run_detail.html", ctx)


@signed_in
@require_GET
def run_live(request: HttpRequest, pk: int) -> HttpResponse:
    """The polling fragment: new log lines and the summary, out of band.

    Once the run has ended the answer is HTTP 286 (HttpResponseStopPolling):
    htmx swaps this last fragment and stops polling.
    """
    if not request.htmx:
        return redirect("console:run-detail", pk=pk)
    run = get_run(pk)
    now = clock.now()
    after = request.GET.get("after", "0")
    after_id = int(after) if after.isascii() and after.isdigit() else 0
    lines = list(JobLogEntry.objects.filter(run=run, id__gt=after_id).order_by("id")[:LIVE_BATCH])
    ctx = {"tz": local_zone(), "now": now, "lines": lines, "poll": POLL_SECONDS,
           "last_log_id": lines[-1].pk if lines else after_id, "live": True, "request": request,
           **_summary_context(run, now)}
    # More lines than one batch: keep polling until they are all sent.
    ended = not ctx["active"] and len(lines) < LIVE_BATCH
    ctx["active"] = not ended
    html = render_to_string("console/run_detail.html#live", ctx, request=request)
    return HttpResponseStopPolling(html) if ended else HttpResponse(html)


@signed_in
@require_GET
def run_log_text(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole log as plain text (for long runs, and for pasting into a ticket)."""
    run = get_run(pk)
    tz = local_zone()
    body = "".join(f"{e.at.astimezone(tz):%Y-%m-%d %H:%M:%S %Z} {e.level:7} {e.message}\n"
                   for e in run.log_entries.order_by("id").iterator())
    response = HttpResponse(body, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{run.job}-{run.pk}.log"'
    return response
