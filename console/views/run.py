"""Run Job and Re-aggregation dialogs. Both start jobs only through
gimmanager.jobs.services.request_run, and show its answer in the dialog."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import trigger_client_event

from console import infomart_data
from console.forms import ReaggregationForm, RunJobForm
from console.views.common import base_context, local_zone, render_page, signed_in
from gimmanager import clock, reagg
from gimmanager.catalog import JOB_DESCRIPTIONS, NOT_RUNNABLE_BY_HAND, Job
from gimmanager.config.services import configuration_errors, current_values
from gimmanager.jobs import services
from gimmanager.jobs.services import Outcome, Requester
from gimmanager.options import ScheduleOptions
from scheduler import manual


def _preview(job: Job | None, *, reaggregation: bool = False) -> dict[str, Any] | None:
    """What Run Job would do now, from the same pure rules the service applies.

    Only a preview: the answer that counts is the service's when the user runs.
    """
    if job is None:
        return None
    values = current_values()
    errors = configuration_errors(values, job)
    if errors:
        return {"verdict": "refuse", "message": f"The configuration check found errors, so {job.value} cannot "
                "start: " + "; ".join(errors), "warnings": ()}
    decision = manual.decide_run(ScheduleOptions.from_values(values), clock.now(), services.jobs_state(), job,
                                 reaggregation=reaggregation)
    return {"verdict": decision.verdict.value, "message": decision.message, "warnings": decision.warnings,
            "rule": decision.rule}


def _answered(request: HttpRequest, template: str, ctx: dict[str, Any], outcome: Outcome) -> HttpResponse:
    """The dialog with the service's answer; tables listening for jobsChanged redraw."""
    ctx["outcome"] = outcome
    response = render_page(request, template, ctx, partial="body")
    if outcome.ok or outcome.run:  # a run that failed at once (broker down) is news too
        trigger_client_event(response, "jobsChanged", {"run": outcome.run.pk if outcome.run else None})
    return response


@signed_in
@permission_required("jobs.run_job", raise_exception=True)
@require_http_methods(["GET", "POST"])
def run_job(request: HttpRequest) -> HttpResponse:
    """Run Job: pick a job, optional Job Parameters, Run; the answer stays in the dialog.

    GET ?job=...&params=... with HX-Target run-check redraws only the check
    (what will happen, parameter errors) as the user chooses and types.
    """
    template = "console/dialogs/run_job.html"
    if request.method == "POST":
        form = RunJobForm(request.POST, auto_id="run_%s")
        ctx = base_context(request, form=form, descriptions=_descriptions())
        if form.is_valid():
            outcome = services.request_run(form.cleaned_data["job"], by=Requester.of_user(request.user, "console"),
                                           params=form.cleaned_data["params"])
            return _answered(request, template, ctx, outcome)
        ctx["check"] = _check(form)
        return render_page(request, template, ctx, partial="body")
    form = RunJobForm(request.GET if "job" in request.GET else None, auto_id="run_%s",
                      initial={"job": request.GET.get("job", "")})
    ctx = base_context(request, form=form, descriptions=_descriptions(), check=_check(form))
    partial = "check" if request.htmx and request.htmx.target == "run-check" else "dialog"
    return render_page(request, template, ctx, partial=partial)


def _descriptions() -> list[tuple[str, str]]:
    return [(j.value, NOT_RUNNABLE_BY_HAND.get(j, JOB_DESCRIPTIONS[j])) for j in Job]


def _check(form: RunJobForm) -> dict[str, Any]:
    """Parameter errors and what would happen, for the dialog's live check."""
    if not form.is_bound:
        return {}
    form.is_valid()
    job = form.cleaned_data.get("job")
    params = (form.data.get("params") or "").strip()
    valid_reagg = bool(job is Job.AGGREGATE and params and not form.errors.get("params"))
    errors = [f"Job: {e}" for e in form.errors.get("job", [])] + list(form.errors.get("params", []))
    return {"errors": errors,
            "preview": _preview(job, reaggregation=valid_reagg) if isinstance(job, Job) and not errors else None,
            "job": job}


# --- re-aggregation ------------------------------------------------------------------


def _reagg_context(request: HttpRequest, form: ReaggregationForm, note: str) -> dict[str, Any]:
    values = current_values()
    keep = int(values["gim-etl"]["days-to-keep-gim-facts"])
    tz = local_zone()
    today = clock.now().astimezone(tz).date()
    purged_before = today - timedelta(days=keep)  # Job_MaintainGIM purges facts older than this
    check: dict[str, Any] = {"param": form.parameter(), "errors": [], "warnings": []}
    if form.is_bound:
        if form.is_valid():
            parsed: reagg.Reaggregation = form.cleaned_data["parsed"]
            check["param"] = form.cleaned_data["param"]
            if parsed.start < purged_before:
                check["warnings"].append(
                    f"The facts before {purged_before} have been purged (days-to-keep-gim-facts = {keep}). "
                    f"Re-aggregating from {parsed.start} deletes the aggregates of those days and cannot "
                    "rebuild them: you could be left with no aggregates at all for that time.")
            if parsed.end > today + timedelta(days=1):
                check["warnings"].append(f"The range ends after today ({today}): there are no facts yet for "
                                         "the future days.")
            check["preview"] = _preview(Job.AGGREGATE, reaggregation=True)
        else:
            check["errors"] = [f"{form.fields[f].label or f}: {e}" if f != "__all__" else e
                               for f, errs in form.errors.items() for e in errs]
    return base_context(request, tz=tz, form=form, check=check, hierarchy_note=note, keep_days=keep,
                        purged_before=purged_before)


@signed_in
@permission_required("jobs.run_job", raise_exception=True)
@require_http_methods(["GET", "POST"])
def reaggregate(request: HttpRequest) -> HttpResponse:
    """The guided re-aggregation form; submits -insertPendingAgg through Run Job's service."""
    template = "console/dialogs/reaggregate.html"
    names, note = infomart_data.hierarchies()
    if request.method == "POST":
        form = ReaggregationForm(request.POST, hierarchies=names, auto_id="reagg_%s")
        ctx = _reagg_context(request, form, note)
        if form.is_valid():
            outcome = services.request_run(Job.AGGREGATE, by=Requester.of_user(request.user, "console"),
                                           params=form.cleaned_data["param"])
            return _answered(request, template, ctx, outcome)
        return render_page(request, template, ctx, partial="body")
    today = clock.now().astimezone(local_zone()).date()
    form = ReaggregationForm(initial={"scope": "ALLSETS", "start": today - timedelta(days=1), "end": today},
                             hierarchies=names, auto_id="reagg_%s")
    return render_page(request, template, _reagg_context(request, form, note), partial="dialog")


@signed_in
@permission_required("jobs.run_job", raise_exception=True)
@require_GET
def reaggregate_check(request: HttpRequest) -> HttpResponse:
    """Validates the re-aggregation form as the user types (the dialog's live check)."""
    names, note = infomart_data.hierarchies()
    form = ReaggregationForm(request.GET, hierarchies=names, auto_id="reagg_%s")
    ctx = _reagg_context(request, form, note)
    return render_page(request, "console/dialogs/reaggregate.html", ctx, partial="check")
