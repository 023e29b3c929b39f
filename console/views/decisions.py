"""Why didn't it run? The scheduler's recorded non-start decisions, next to the jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import forms
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from console.views.common import base_context, local_zone, render_page, signed_in
from console.views.etl import latest_per_job
from gimmanager import clock
from gimmanager.catalog import Job
from scheduler.models import SchedulerDecision

PAGE = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ACTIONS = ("skip", "wait", "stop", "refuse", "start")


class DecisionFilter(forms.Form):
    job = forms.ChoiceField(required=False, choices=[("", "All jobs")] + [(j.value, j.value) for j in Job])
    action = forms.ChoiceField(required=False, choices=[("", "All decisions")] + [(a, a) for a in ACTIONS])


def _cursor(text: str) -> tuple[datetime, int] | None:
    try:
        micros, pk = text.split(".")
        return _EPOCH + timedelta(microseconds=int(micros)), int(pk)
    except (ValueError, OverflowError):
        return None


@signed_in
@require_GET
def decisions(request: HttpRequest) -> HttpResponse:
    """Newest first (decision_recent / decision_job_recent indexes), keyset paged."""
    form = DecisionFilter(request.GET)
    form.is_valid()
    job, action = form.cleaned_data.get("job"), form.cleaned_data.get("action")
    qs = SchedulerDecision.objects.select_related("run")
    if job:
        qs = qs.filter(job=job)
    if action:
        qs = qs.filter(action=action)
    cursor = _cursor(request.GET.get("after", ""))
    if cursor:
        at, pk = cursor
        qs = qs.filter(Q(last_at__lt=at) | Q(last_at=at, id__lt=pk), last_at__lte=at)
    rows = list(qs.order_by("-last_at", "-id")[: PAGE + 1])
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    after = ""
    if more and rows:
        last = rows[-1]
        after = f"{(last.last_at - _EPOCH) // timedelta(microseconds=1)}.{last.pk}"
    jobs = latest_per_job()
    latest_decision = {j.value: SchedulerDecision.objects.filter(job=j.value).order_by("-last_at").first()
                       for j in Job}
    for j in jobs:
        j["decision"] = latest_decision[j["job"]]
    ctx = base_context(request, tz=local_zone(), now=clock.now(), form=form, rows=rows, after=after,
                       first=cursor is None, jobs=jobs, job=job)
    return render_page(request, "console/decisions.html", ctx, partial="list")
