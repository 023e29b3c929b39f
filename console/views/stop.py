"""Stop Job: stop the selected RUNNING run, or cancel the selected SCHEDULED one.

The confirmation shows what the service will do, with the warnings of the
same pure rule it applies (manual.decide_stop: the aggregation restart
warning of rule 7); the answer shows the service's own Outcome.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from console.views.common import base_context, get_run, render_page, signed_in
from gimmanager import clock
from gimmanager.catalog import Status
from gimmanager.config.services import current_values
from gimmanager.jobs import services
from gimmanager.jobs.models import JobRun
from gimmanager.jobs.services import Outcome, Requester
from gimmanager.options import ScheduleOptions
from scheduler import manual

TEMPLATE = "console/dialogs/stop.html"


def _confirm_context(request: HttpRequest, run: JobRun | None) -> dict[str, Any]:
    ctx = base_context(request, run=run)
    if run is not None and run.status in (Status.RUNNING, Status.SCHEDULED):
        decision = manual.decide_stop(ScheduleOptions.from_values(current_values()), clock.now(),
                                      services.run_info(run))
        ctx.update(verdict=decision.verdict.value, warnings=decision.warnings, message=decision.message)
        if run.job == "Job_MaintainGIM" and run.status == Status.RUNNING:
            ctx["maintain_note"] = ("Job_MaintainGIM stops at its next safe point; the purge or partition step "
                                    "it was in is rolled back and done again by the next run.")
    return ctx


@signed_in
@permission_required("jobs.run_job", raise_exception=True)
@require_GET
def stop_selected(request: HttpRequest) -> HttpResponse:
    """The toolbar's Stop Job: confirmation for the run selected in the history."""
    selected = request.GET.get("selected", "")
    run = JobRun.objects.filter(pk=int(selected)).first() if selected.isascii() and selected.isdigit() else None
    return render_page(request, TEMPLATE, _confirm_context(request, run), partial="dialog")


@signed_in
@permission_required("jobs.run_job", raise_exception=True)
@require_http_methods(["GET", "POST"])
def stop_run(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: confirmation. POST: services.stop_run (RUNNING → stopping, SCHEDULED → cancelled)."""
    run = get_run(pk)
    if request.method == "GET":
        return render_page(request, TEMPLATE, _confirm_context(request, run), partial="dialog")
    outcome = services.stop_run(run.pk, by=Requester.of_user(request.user, "console"))
    return _answered(request, run, outcome)


@signed_in
@permission_required("jobs.run_job", raise_exception=True)
@require_POST
def cancel_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel a SCHEDULED run (refused, in words, for any other status)."""
    run = get_run(pk)
    outcome = services.cancel_run(run.pk, by=Requester.of_user(request.user, "console"))
    return _answered(request, run, outcome)


def _answered(request: HttpRequest, run: JobRun, outcome: Outcome) -> HttpResponse:
    run.refresh_from_db()
    ctx = base_context(request, run=run, outcome=outcome)
    response = render_page(request, TEMPLATE, ctx, partial="body")
    if outcome.ok:
        trigger_client_event(response, "jobsChanged", {"run": run.pk})
    return response
