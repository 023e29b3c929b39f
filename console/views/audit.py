"""Audit log: who ran, stopped, cancelled, re-aggregated or changed what, and when.

Four sources merged newest first: manual JobRun requests, stop/cancel requests
on JobRun, ReaggregationRequest rows and OptionChange rows. Paged by a
(time, source, id) cursor so equal timestamps never drop or repeat an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from console.views.common import base_context, local_zone, render_page, signed_in
from gimmanager.config.models import OptionChange
from gimmanager.jobs.models import JobRun, ReaggregationRequest

PAGE = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
KINDS = [("run", "Run Job"), ("stop", "Stop / cancel"), ("reaggregate", "Re-aggregation"), ("option", "Option change")]
# Source rank: the tie-breaker between events of the same instant (a stop follows its run).
RANK = {"stop": 3, "reaggregate": 2, "run": 1, "option": 0}


class AuditFilter(forms.Form):
    kind = forms.ChoiceField(required=False, choices=[("", "Everything")] + KINDS)
    who = forms.CharField(required=False, max_length=150, label="Who")


@dataclass
class Event:
    at: datetime
    kind: str
    pk: int
    who: str
    what: str
    via: str = ""
    run: Any = None

    def cursor(self) -> str:
        return f"{(self.at - _EPOCH) // timedelta(microseconds=1)}.{RANK[self.kind]}.{self.pk}"


def _decode(text: str) -> tuple[datetime, int, int] | None:
    try:
        micros, rank, pk = text.split(".")
        return _EPOCH + timedelta(microseconds=int(micros)), int(rank), int(pk)
    except (ValueError, OverflowError):
        return None


def _before(qs: QuerySet[Any], field: str, kind: str, cursor: tuple[datetime, int, int] | None) -> QuerySet[Any]:
    """Rows strictly after the cursor in (time desc, rank desc, id desc) order."""
    if cursor is None:
        return qs
    at, rank, pk = cursor
    mine = RANK[kind]
    if mine < rank:
        return qs.filter(**{f"{field}__lte": at})
    if mine > rank:
        return qs.filter(**{f"{field}__lt": at})
    return qs.filter(Q(**{f"{field}__lt": at}) | Q(**{field: at, "pk__lt": pk}), **{f"{field}__lte": at})


def events(kind: str, who: str, cursor: tuple[datetime, int, int] | None, limit: int) -> list[Event]:
    out: list[Event] = []
    if kind in ("", "run"):
        qs = JobRun.objects.filter(by=JobRun.By.MANUAL)
        if who:
            qs = qs.filter(requested_by__icontains=who)
        for r in _before(qs, "requested_at", "run", cursor).order_by("-requested_at", "-id")[:limit]:
            what = f"ran {r.job}" + (f" with {r.params}" if r.params else "")
            out.append(Event(r.requested_at, "run", r.pk, r.requested_by, what, run=r))
    if kind in ("", "stop"):
        qs = JobRun.objects.filter(stop_requested_at__isnull=False)
        if who:
            qs = qs.filter(stop_requested_by__icontains=who)
        for r in _before(qs, "stop_requested_at", "stop", cursor).order_by("-stop_requested_at", "-id")[:limit]:
            verb = "cancelled the scheduled" if r.started_at is None else "stopped"
            out.append(Event(r.stop_requested_at, "stop", r.pk, r.stop_requested_by, f"{verb} {r.job}", run=r))
    if kind in ("", "reaggregate"):
        qs = ReaggregationRequest.objects.select_related("run")
        if who:
            qs = qs.filter(requested_by__icontains=who)
        for q in _before(qs, "requested_at", "reaggregate", cursor).order_by("-requested_at", "-id")[:limit]:
            out.append(Event(q.requested_at, "reaggregate", q.pk, q.requested_by,
                             f"re-aggregation {q.agg_set} from {q.start_date} to {q.end_date} ({q.state})", run=q.run))
    if kind in ("", "option"):
        qs = OptionChange.objects.all()
        if who:
            qs = qs.filter(changed_by__icontains=who)
        for c in _before(qs, "changed_at", "option", cursor).order_by("-changed_at", "-id")[:limit]:
            out.append(Event(c.changed_at, "option", c.pk, c.changed_by,
                             f"[{c.section}] {c.option}: {c.old_value!r} → {c.new_value!r}", via=c.via))
    out.sort(key=lambda e: (e.at, RANK[e.kind], e.pk), reverse=True)
    return out


@signed_in
@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    form = AuditFilter(request.GET)
    form.is_valid()
    kind, who = form.cleaned_data.get("kind") or "", (form.cleaned_data.get("who") or "").strip()
    cursor = _decode(request.GET.get("after", ""))
    got = events(kind, who, cursor, PAGE + 1)
    rows = got[:PAGE]
    ctx = base_context(request, tz=local_zone(), form=form, rows=rows, first=cursor is None,
                       after=rows[-1].cursor() if len(got) > PAGE else "")
    return render_page(request, "console/audit.html", ctx, partial="list")
