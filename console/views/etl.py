"""ETL status: how far behind the source the Info Mart is, the last cycles, recent failures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from console import infomart_data
from console.views.common import base_context, local_zone, render_page, signed_in
from gimmanager import clock
from gimmanager.catalog import Job, Status
from gimmanager.jobs.models import JobRun

CYCLES = 24  # cycles drawn in the chart
FAILURE_WINDOW = timedelta(hours=24)


def latest_per_job() -> list[dict[str, Any]]:
    """Latest run and latest COMPLETE run of every job: two indexed queries per job."""
    out = []
    for job in Job:
        runs = JobRun.objects.filter(job=job)
        out.append({"job": job.value, "latest": runs.first(),
                     "complete": runs.filter(status=Status.COMPLETE).first()})
    return out


def cycles(now: datetime, limit: int = CYCLES) -> list[dict[str, Any]]:
    """The last ETL cycles: each Job_ExtractICON run with the Job_TransformGIM it led to."""
    extracts = list(JobRun.objects.filter(job=Job.EXTRACT).exclude(started_at=None)[:limit])
    children: dict[int, JobRun] = {}
    for t in JobRun.objects.filter(parent_id__in=[e.pk for e in extracts], job=Job.TRANSFORM).order_by("id"):
        children.setdefault(t.parent_id, t)  # type: ignore[arg-type]
    out = []
    for e in reversed(extracts):
        t = children.get(e.pk)
        end = t.ended_at if t is not None else e.ended_at  # None while running
        if e.status == Status.FAILED or (t is not None and t.status == Status.FAILED):
            outcome = "failed"
        elif e.status == Status.RUNNING or (t is not None and t.status == Status.RUNNING):
            outcome = "running"
        elif e.status == Status.STOPPED or (t is not None and t.status == Status.STOPPED):
            outcome = "stopped"
        else:
            outcome = "complete" if t is not None else "extract-only"
        assert e.started_at is not None
        out.append({"extract": e, "transform": t, "start": e.started_at,
                    "duration": (end or now) - e.started_at, "outcome": outcome})
    return out


def chart(items: list[dict[str, Any]], tz: Any, width: int = 720, height: int = 160) -> dict[str, Any]:
    """Bars of cycle durations as SVG coordinates (drawn by the template)."""
    if not items:
        return {"bars": [], "width": width, "height": height}
    longest = max(c["duration"].total_seconds() for c in items) or 1.0
    pad_left, pad_bottom, top = 48, 20, 10
    slot = (width - pad_left) / max(len(items), CYCLES)  # fixed bar width: few cycles stay narrow
    bars = []
    for i, c in enumerate(items):
        h = max(1.0, (height - pad_bottom - top) * c["duration"].total_seconds() / longest)
        bars.append({"x": round(pad_left + i * slot + slot * 0.15, 1), "y": round(height - pad_bottom - h, 1),
                     "w": round(slot * 0.7, 1), "h": round(h, 1), "cls": c["outcome"],
                     "label": f'{c["start"].astimezone(tz):%H:%M}',
                     "title": f'cycle of run {c["extract"].pk} at {c["start"].astimezone(tz):%Y-%m-%d %H:%M %Z}: '
                              f'{_mmss(c["duration"])} ({c["outcome"]})',
                     "href": c["extract"].pk})
    return {"bars": bars, "width": width, "height": height, "longest": _mmss(timedelta(seconds=longest)),
            "base": height - pad_bottom, "top": top, "pad": pad_left,
            "every": max(1, len(items) // 8)}


def _mmss(td: timedelta) -> str:
    s = int(td.total_seconds())
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def failures(now: datetime) -> list[JobRun]:
    # The requested_at bound keeps the scan on jobrun_status_recent short; no job
    # runs longer than a week (aggregation windows last at most a day).
    return list(JobRun.objects.filter(status=Status.FAILED, ended_at__gte=now - FAILURE_WINDOW,
                                      requested_at__gte=now - timedelta(days=8))[:100])


@signed_in
@require_GET
def etl_status(request: HttpRequest) -> HttpResponse:
    tz = local_zone()
    now = clock.now()
    hwm, hwm_note = infomart_data.high_water_marks(now)
    pending, pending_note = infomart_data.pending_aggregation()
    jobs = latest_per_job()
    by_job = {j["job"]: j for j in jobs}
    last_extract = by_job[Job.EXTRACT.value]["complete"]
    last_transform = by_job[Job.TRANSFORM.value]["complete"]
    items = cycles(now)
    ctx = base_context(
        request, tz=tz, now=now, jobs=jobs, hwm=hwm, hwm_note=hwm_note, pending=pending, pending_note=pending_note,
        last_extract=last_extract, last_transform=last_transform,
        extract_lag=(now - last_extract.ended_at) if last_extract and last_extract.ended_at else None,
        transform_lag=(now - last_transform.ended_at) if last_transform and last_transform.ended_at else None,
        cycles=items[::-1][:10], chart=chart(items, tz), failures=failures(now),
    )
    return render_page(request, "console/etl_status.html", ctx)
