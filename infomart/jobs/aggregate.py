"""Job_AggregateGIM: keeps the AGT_* aggregate tables up to date, continuously.

Start: deploy the hierarchies (create missing AGT tables and AG2 views,
rebuild changed ones) and check that the aggregates were computed in the
current [schedule] timezone; if not (first run, or the option changed), the
aggregation calendar is rebuilt, the aggregates emptied and all facts queued.

Then loop until stopped or outside the aggregation window:
1. ctx.check_stop();
2. pending ranges (CTL_PENDING_AGG, queued by Job_TransformGIM): merge them,
   cut them into pieces of at most a day, and for each piece, in ONE
   transaction: recompute every level of every hierarchy for the intervals
   the piece touches, delete the queue rows it consumed and queue what is
   left of the range. A stop between pieces loses nothing;
3. re-aggregation requests (-insertPendingAgg) handed to this run: each one,
   in one transaction with its result, deletes and recomputes its set for
   the intervals that start in [START, END) (local dates of the timezone
   option); rows outside the range are not touched;
4. nothing to do: wait a second.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from django.db import transaction

from gimmanager import clock, reagg
from gimmanager.config.services import current_values
from gimmanager.formats import local_to_utc
from gimmanager.jobs.context import JobContext
from gimmanager.jobs.models import ReaggregationRequest
from gimmanager.options import ScheduleOptions
from infomart import calendar, hierarchies, sql
from infomart.hierarchies import LEVELS
from infomart.models import CtlAggCalendar, CtlPendingAgg
from scheduler import windows

PIECE_SECONDS = 86400  # the largest range recomputed in one transaction
FACT_RANGE = """SELECT MIN(k), MAX(e) FROM (
  SELECT MIN(start_date_time_key) AS k, MAX(COALESCE(end_ts, start_ts)) AS e FROM interaction_resource_fact
  UNION ALL SELECT MIN(start_date_time_key), MAX(COALESCE(end_ts, start_ts)) FROM mediation_segment_fact
  UNION ALL SELECT MIN(start_date_time_key), MAX(COALESCE(end_ts, start_ts)) FROM sm_res_state_fact
  UNION ALL SELECT MIN(start_date_time_key), MAX(COALESCE(end_ts, start_ts)) FROM sm_res_session_fact) x"""


def cover_calendar(ctx: JobContext, lo: int, hi: int) -> None:
    """The aggregation calendar must hold the first 15 minutes of every interval that
    [lo, hi) touches, up to its year: the AG2 views label rows from it."""
    tz = ctx.option("schedule", "timezone")
    year = datetime.fromtimestamp(lo, UTC).astimezone(tz).year
    first = int(local_to_utc(date(year, 1, 1), time(0, 0), tz).timestamp())
    calendar.ensure("date_time_agg", tz.key, first, hi)


def queue_everything(now_ts: int) -> tuple[int, int] | None:
    """Queue the whole range of the facts for (re)aggregation."""
    lo, hi = sql.rows(FACT_RANGE)[0]
    if lo is None:
        return None
    CtlPendingAgg.objects.create(start_key=int(lo), end_key=sql.interval_key(int(hi)) + 900, created_ts=now_ts)
    return int(lo), sql.interval_key(int(hi)) + 900


def prepare(ctx: JobContext) -> None:
    """Deploy the hierarchies; make the aggregates match the current timezone option."""
    tz = ctx.option("schedule", "timezone").key
    now_ts = sql.epoch(clock.now())
    with transaction.atomic():
        rebuilt = hierarchies.deploy(now_ts)
        current = CtlAggCalendar.objects.select_for_update().filter(pk=1).first()
        if current is None or current.timezone != tz:
            first, last, _ = calendar.bounds(calendar.TABLES[1])
            if first is not None:
                calendar.ensure("date_time_agg", tz, first, last)
            for table in hierarchies.all_tables():
                sql.execute(f"DELETE FROM {table}")
            CtlAggCalendar.objects.update_or_create(pk=1, defaults={"timezone": tz})
            span = queue_everything(now_ts)
            why = "first aggregation" if current is None else f"timezone changed from {current.timezone}"
            ctx.log(f"{why}: aggregates are computed in {tz}; "
                    + ("all facts queued for aggregation" if span else "no facts yet"))
        elif rebuilt:
            span = queue_everything(now_ts)
            ctx.log(f"created {len(rebuilt)} aggregate tables ({', '.join(rebuilt[:3])}...); "
                    + ("all facts queued for aggregation" if span else "no facts yet"))


def merge_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def process_pending(ctx: JobContext, lookback: int) -> int:
    """Work off the queued ranges, one piece per transaction; pieces done."""
    rows = list(CtlPendingAgg.objects.order_by("id").values_list("id", "start_key", "end_key")[:10000])
    if not rows:
        return 0
    pieces_done = 0
    spans = merge_ranges([(sql.interval_key(lo), -(-hi // 900) * 900) for _, lo, hi in rows])
    total = sum(-(-(hi - lo) // PIECE_SECONDS) for lo, hi in spans)
    # Queue rows belong to the span holding them; each piece consumes its span's rows
    # and leaves one row for the rest.
    owner: dict[int, list[int]] = {i: [] for i in range(len(spans))}
    for rid, lo, _hi in rows:
        owner[next(i for i, (a, b) in enumerate(spans) if a <= sql.interval_key(lo) < b)].append(rid)
    for i, (lo, hi) in enumerate(spans):
        consumed = owner[i]
        while lo < hi:
            ctx.check_stop()
            cut = min(hi, lo + PIECE_SECONDS)
            with transaction.atomic():
                sql.etl_transaction()
                cover_calendar(ctx, lo, cut)
                written = sum(hierarchies.recompute(h, LEVELS, lo, cut, lookback=lookback, containing=True)
                              for h in hierarchies.HIERARCHIES)
                CtlPendingAgg.objects.filter(id__in=consumed).delete()
                consumed = []
                if cut < hi:
                    rest = CtlPendingAgg.objects.create(start_key=cut, end_key=hi,
                                                        created_ts=sql.epoch(clock.now()))
                    consumed = [rest.pk]
            pieces_done += 1
            ctx.progress(pieces_done, total, "pending aggregation ranges")
            ctx.log(f"aggregated {sql.from_epoch(lo):%Y-%m-%d %H:%M}-{sql.from_epoch(cut):%Y-%m-%d %H:%M} UTC: "
                    f"{written} aggregate rows written", level="DEBUG")
            lo = cut
    return pieces_done


def reaggregate(ctx: JobContext, req: ReaggregationRequest, lookback: int) -> tuple[str, str]:
    """Carry out one -insertPendingAgg request; (state, result text). Atomic."""
    try:
        r = reagg.parse(req.params)
    except ValueError as exc:
        return ReaggregationRequest.State.FAILED, str(exc)
    unknown = [h for h in r.hierarchies if h not in hierarchies.BY_NAME]
    if unknown:
        return (ReaggregationRequest.State.FAILED,
                f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not deployed in this Info Mart "
                f"(deployed: {', '.join(hierarchies.available())}); nothing was changed")
    chosen = [hierarchies.BY_NAME[h] for h in r.hierarchies] or list(hierarchies.HIERARCHIES)
    levels = (r.level,) if r.level else LEVELS
    online = None if r.flavor is None else r.flavor == "Online"
    tz = ctx.option("schedule", "timezone")
    lo = int(local_to_utc(r.start, time(0, 0), tz).timestamp())
    hi = int(local_to_utc(r.end, time(0, 0), tz).timestamp())
    cover_calendar(ctx, lo, hi)
    written = sum(hierarchies.recompute(h, levels, lo, hi, lookback=lookback, containing=False, online=online)
                  for h in chosen)
    note = ""
    keep = ctx.option("gim-etl", "days-to-keep-gim-facts")
    if lo < sql.epoch(clock.now()) - keep * 86400:
        note = (f"; warning: facts older than {keep} days (days-to-keep-gim-facts) may have been purged, "
                "so the start of the range may have no aggregates")
    return (ReaggregationRequest.State.DONE,
            f"re-aggregated {r.agg_set} for {r.start}..{r.end} (local dates, {tz.key}, end exclusive): "
            f"{', '.join(h.name for h in chosen)} at {', '.join(levels)}; {written} rows written{note}")


def process_requests(ctx: JobContext, lookback: int) -> int:
    n = 0
    for req in ReaggregationRequest.objects.filter(run_id=ctx.run_id, state=ReaggregationRequest.State.PENDING):
        ctx.check_stop()
        with transaction.atomic():
            sql.etl_transaction()
            state, result = reaggregate(ctx, req, lookback)
            if state == ReaggregationRequest.State.DONE:
                # The outcome commits with the aggregates it describes.
                ReaggregationRequest.objects.filter(pk=req.pk, state=ReaggregationRequest.State.PENDING).update(
                    state=state, done_at=clock.now(), result=result)
            else:
                transaction.set_rollback(True)
        if state != ReaggregationRequest.State.DONE:
            ReaggregationRequest.objects.filter(pk=req.pk, state=ReaggregationRequest.State.PENDING).update(
                state=state, done_at=clock.now(), result=result)
        ctx.log(f"{req.params}: {result}", level="INFO" if state == ReaggregationRequest.State.DONE else "ERROR")
        n += 1
    return n


def in_window() -> bool:
    opts = ScheduleOptions.from_values(current_values())
    return windows.aggregation_window_at(opts, clock.now()) is not None


FACT_TABLES = ("interaction_resource_fact", "mediation_segment_fact", "sm_res_state_fact", "sm_res_session_fact")


def run_once(ctx: JobContext) -> int:
    """One pass of the loop's work: pending ranges, then re-aggregation requests; work done."""
    lookback = ctx.option("gim-etl", "max-state-duration") + 900
    # Facts loaded faster than autovacuum analyzes them mislead the planner.
    sql.analyze_if_stale(FACT_TABLES + ("date_time_agg",) + tuple(hierarchies.all_tables()))
    return process_pending(ctx, lookback) + process_requests(ctx, lookback)


def run(ctx: JobContext) -> None:
    prepare(ctx)
    ctx.log(f"aggregating {', '.join(hierarchies.available())} at {', '.join(LEVELS)} "
            f"in {ctx.option('schedule', 'timezone').key}")
    while True:
        ctx.check_stop()
        did = run_once(ctx)
        if not in_window():
            ctx.log("the aggregation window has ended")
            return
        if not did and ctx.wait(1.0):
            ctx.check_stop()
