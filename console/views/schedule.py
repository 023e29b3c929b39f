"""Today's schedule: the simulator's plan for the current options, what ran, and now."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from console import timeline
from console.views.common import base_context, render_page, signed_in
from gimmanager import clock
from gimmanager.config.services import current_values


@signed_in
@require_GET
def schedule(request: HttpRequest) -> HttpResponse:
    now = clock.now()
    if timeline.simulator_available():
        tl = timeline.today(current_values(), now, with_actual=True)
    else:
        tl = {"error": "Today's schedule needs the scheduler's simulator (scheduler/simulator.py), "
                       "which is not available."}
    return render_page(request, "console/schedule.html", base_context(request, now=now, tl=tl))
