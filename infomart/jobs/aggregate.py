"""Job_AggregateGIM, minimal: runs continuously, answers re-aggregation requests,
and ends when its window closes (manual rule 4) or when asked to stop."""

from __future__ import annotations

from gimmanager import clock
from gimmanager.jobs.context import JobContext
from gimmanager.jobs.models import ReaggregationRequest
from gimmanager.options import ScheduleOptions
from scheduler import windows


def run(ctx: JobContext) -> None:
    while True:
        ctx.check_stop()
        for req in ReaggregationRequest.objects.filter(run_id=ctx.run_id, state=ReaggregationRequest.State.PENDING):
            ctx.log(f"re-aggregation {req.params}: no aggregate tables are deployed yet")
            ReaggregationRequest.objects.filter(pk=req.pk).update(
                state=ReaggregationRequest.State.DONE, done_at=clock.now(), result="nothing to aggregate")
        from gimmanager.config.services import current_values

        opts = ScheduleOptions.from_values(current_values())
        if windows.aggregation_window_at(opts, clock.now()) is None:
            ctx.log("the aggregation window has ended")
            return
        if ctx.wait(1.0):
            ctx.check_stop()
