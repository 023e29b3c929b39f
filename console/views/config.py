"""Configuration: every option of every section, the configuration check and the
schedule preview. Saving goes through config.services.update_options
(Administrator only): all values validated first, nothing saved if one is bad."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from console import timeline
from console.forms import OptionsForm
from console.views.common import base_context, local_zone, render_page, signed_in
from gimmanager import clock
from gimmanager.config.services import Changer, OptionsError, configuration_problems, current_values, update_options
from gimmanager.options import SECTIONS

TEMPLATE = "console/config.html"


@lru_cache(maxsize=1)
def zone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def _context(request: HttpRequest, form: OptionsForm, values: dict[str, dict[str, str]],
             **extra: Any) -> dict[str, Any]:
    problems = configuration_problems(values)
    return base_context(request, form=form, problems=problems, sections=SECTIONS, zones=zone_names(),
                        has_errors=any(p.level == "error" for p in problems),
                        simulator=timeline.simulator_available(), **extra)


@signed_in
@require_GET
def config(request: HttpRequest) -> HttpResponse:
    """Everyone may read the options; only an Administrator gets a Save button."""
    values = current_values()
    form = OptionsForm(values=values)
    return render_page(request, TEMPLATE, _context(request, form, values))


@signed_in
@permission_required("config.change_options", raise_exception=True)
@require_POST
def config_save(request: HttpRequest) -> HttpResponse:
    values = current_values()
    form = OptionsForm(request.POST, values=values)
    try:
        changed = update_options(form.changes(), by=Changer.of_user(request.user, "console"))
    except OptionsError as exc:
        form.add_option_errors(exc.errors)
        ctx = _context(request, form, values, refused=exc.errors)
        return render_page(request, TEMPLATE, ctx, partial="form")
    if changed:
        messages.success(request, f"Saved {len(changed)} change{'s' if len(changed) != 1 else ''}: "
                         + ", ".join(f"[{c.section}] {c.option} = {c.new_value!r}" for c in changed) + ".")
    else:
        messages.info(request, "Nothing to save: every value was already set.")
    # A full page load after saving: the banners (scheduler paused, check errors) depend on the options.
    url = reverse("console:config")
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@signed_in
@require_POST
def config_preview(request: HttpRequest) -> HttpResponse:
    """The day's schedule for the posted, unsaved [schedule] options (nothing is saved).

    Read-only, so every role may use it; POST only because it carries the whole form.
    """
    values = current_values()
    form = OptionsForm(request.POST, values=values)
    merged = {s: dict(v) for s, v in values.items()}
    for section, opts in form.changes().items():
        merged.setdefault(section, {}).update(opts)
    tz = local_zone()
    ctx = base_context(request, tz=tz, preview=timeline.preview(merged, clock.now()))
    return render_page(request, "console/partials/schedule_preview.html", ctx)
