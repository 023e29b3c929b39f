"""Job History (home page): filter, sort, keyset pages, Refresh and auto-refresh."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from console import history as hist
from console.forms import HistoryFilterForm
from console.views.common import base_context, local_zone, render_page, signed_in
from gimmanager import clock
from gimmanager.catalog import Status

# Seconds between automatic refreshes while a run is RUNNING or SCHEDULED, and
# (slower) while nothing is: that one only notices runs the scheduler starts.
POLL_ACTIVE = 3
POLL_IDLE = 30


@signed_in
@require_GET
@vary_on_headers("HX-Request", "HX-Target")
def home(request: HttpRequest) -> HttpResponse:
    """The history table.

    Full page for a plain request. For htmx: `#history-grid` (Refresh and the
    auto-refresh poll: only the table element is replaced, inside a scroll box
    that stays, plus the pager out of band) or `#history-table` (filter, sort
    or page change: the table and the pager).
    """
    form = HistoryFilterForm(request.GET)
    form.is_valid()  # invalid fields are reported and left out of the filter
    filters = hist.filters_from(form.cleaned_data)
    tz = local_zone()
    now = clock.now()
    sort_key = request.GET.get("sort", hist.DEFAULT_SORT)
    page = hist.history(filters, sort_key, tz, after=request.GET.get("after", ""),
                        before=request.GET.get("before", ""))
    selected = request.GET.get("selected", "")
    active = hist.anything_active()
    target = request.htmx.target if request.htmx else None
    ctx = base_context(
        request, tz=tz, now=now, form=form, filters=filters, page=page, sort=page.sort,
        selected=int(selected) if selected.isascii() and selected.isdigit() else None, active=active,
        poll=POLL_ACTIVE if active else POLL_IDLE, columns=hist.SORT_COLUMNS,
        total=None if (filters.active or request.htmx) else hist.estimated_total(),
        stoppable={Status.RUNNING.value, Status.SCHEDULED.value},
        oob=target == "history-grid",
        # "/runs/" once per page instead of a reverse() per row (a tenth of the page's time).
        run_prefix=reverse("console:run-detail", args=[0]).removesuffix("0/"),
    )
    partial = {"history-grid": "rows", "history-table": "table"}.get(target or "")
    return render_page(request, "console/history.html", ctx, partial=partial)
