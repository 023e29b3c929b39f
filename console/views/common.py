"""What every console view shares: sign-in, the local zone, banners, rendering."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.http import HttpResponseClientRedirect

from gimmanager import clock
from gimmanager.config.models import ScheduleSection
from gimmanager.jobs.models import JobRun

View = Callable[..., HttpResponse]


def signed_in(view: View) -> View:
    """login_required that also works for htmx requests: a fragment request
    whose session expired redirects the whole page to the sign-in form
    instead of swapping the sign-in page into a table cell."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if getattr(request, "htmx", False):
            current = request.htmx.current_url_abs_path or "/"
            return HttpResponseClientRedirect(_login_url(current))
        return redirect_to_login(request.get_full_path())

    return wrapper


def _login_url(next_path: str) -> str:
    from urllib.parse import urlencode

    from django.shortcuts import resolve_url

    return f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': next_path})}"


def local_zone() -> ZoneInfo:
    """The [schedule] timezone option: every time on the console is shown in it."""
    name = ScheduleSection.load().timezone  # type: ignore[attr-defined]
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):  # a bad stored value is reported by the configuration check
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Banner:
    level: str  # "warning" | "error" | "info"
    text: str
    link: str = ""
    items: tuple[str, ...] = ()


def banners() -> list[Banner]:
    """Scheduler paused, configuration-check errors: shown at the top of every page."""
    from django.urls import reverse

    from gimmanager.config.services import blocking_errors, configuration_problems, current_values, job_errors

    values = current_values()
    out = []
    if values["schedule"]["run-scheduler"] != "true":
        out.append(Banner("warning", "The scheduler is paused (run-scheduler = false): no job starts on its "
                          "own. Jobs run only when started here.", reverse("console:config")))
    problems = configuration_problems(values)
    errors = tuple(blocking_errors(problems))
    if errors:
        out.append(Banner("error", "The configuration check found errors: no job can start until they are "
                          "fixed.", reverse("console:config"), errors))
    for job, job_errs in job_errors(problems).items():
        out.append(Banner("error", f"The configuration check found errors: {job.value} cannot start until they "
                          "are fixed; the other jobs run.", reverse("console:config"), job_errs))
    return out


def base_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    """Context of a full page (fragments skip the banners: they are not redrawn)."""
    tz = extra.pop("tz", None) or local_zone()
    now = extra.pop("now", None) or clock.now()
    can_run = request.user.has_perm("jobs.run_job")
    can_configure = request.user.has_perm("config.change_options")
    role = "Administrator" if can_configure else "Operator" if can_run else "Viewer"
    ctx: dict[str, Any] = {"tz": tz, "now": now, "can_run": can_run, "can_configure": can_configure, "role": role}
    if not getattr(request, "htmx", False):
        ctx["banners"] = banners()
    ctx.update(extra)
    return ctx


def render_page(request: HttpRequest, template: str, ctx: dict[str, Any], *, partial: str | None = None,
                status: int = 200) -> HttpResponse:
    """The whole page, or only `template#partial` for an htmx request."""
    name = f"{template}#{partial}" if partial and getattr(request, "htmx", False) else template
    return render(request, name, ctx, status=status)


def get_run(pk: int) -> JobRun:
    """The run, or 404. Every signed-in role may read every run (Viewer reads everything)."""
    run = JobRun.objects.select_related("parent").filter(pk=pk).first()
    if run is None:
        raise Http404(f"There is no job run {pk}.")
    return run


def local(dt: datetime | None, tz: ZoneInfo) -> str:
    if dt is None:
        return ""
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")
