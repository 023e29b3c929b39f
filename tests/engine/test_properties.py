"""Properties of the scheduler over random valid options and durations, through
the simulator (which drives the same engine as the live beat)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gimmanager.catalog import Job, Status
from gimmanager.formats import local_to_utc
from gimmanager.options import ScheduleOptions, check_configuration
from scheduler import windows
from scheduler.engine import Action
from scheduler.simulator import Simulation
from scheduler.state import RunInfo

ZONES = ["America/New_York", "Europe/Berlin", "UTC", "Australia/Lord_Howe"]
# Ordinary days and the days around DST changes of those zones (Lord Howe moves by 30 minutes).
DAYS = [date(2026, 5, 1), date(2026, 3, 7), date(2026, 3, 28), date(2026, 10, 24), date(2026, 10, 31),
        date(2026, 4, 4), date(2026, 10, 3)]
SIM_DAYS = 4


def _hhmm(draw: st.DrawFn) -> str:
    return f"{draw(st.integers(0, 23)):02d}:{draw(st.sampled_from([0, 15, 30, 45, 59])):02d}"


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, str], datetime, dict[Job, float], list[tuple[Job, datetime]],
                                        list[tuple[datetime, str, Job, str]]]:
    tz = draw(st.sampled_from(ZONES))
    schedule = {
        "run-scheduler": "true",
        "timezone": tz,
        "etl-start-time": _hhmm(draw),
        "etl-end-time": _hhmm(draw),
        "etl-frequency": str(draw(st.integers(5, 180))),
        "run-maintain": draw(st.sampled_from(["true", "false"])),
        "maintain-start-time": _hhmm(draw),
        "run-aggregates": draw(st.sampled_from(["true", "false"])),
        "aggregate-schedule": draw(st.sampled_from(["0 1", "30 2", "0 4", "0 1,13", "0 0/6", "10 3"])),
        "aggregate-duration": draw(st.sampled_from(["00:30", "02:00", "05:00", "12:00", "23:00"])),
        "run-update-stats": draw(st.sampled_from(["true", "false"])),
        "update-stats-schedule": draw(st.sampled_from(["0/10 *", "5 *", "0/30 *", "0 2"])),
        "run-export": draw(st.sampled_from(["true", "false"])),
        "export-schedule": draw(st.sampled_from(["20 0/8", "0 2", "45 *", "30 1"])),
    }
    day = draw(st.sampled_from(DAYS))
    start = datetime.combine(day, time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 7, 30]))),
                             tzinfo=ZoneInfo(tz))
    minutes = st.floats(0.5, 120, allow_nan=False)
    durations = {Job.EXTRACT: draw(minutes), Job.TRANSFORM: draw(minutes),
                 Job.MAINTAIN: draw(st.floats(1, 400, allow_nan=False)),
                 Job.UPDATE_STATS: draw(st.floats(0.5, 30, allow_nan=False)), Job.EXPORT: draw(minutes)}
    offsets = st.floats(0, SIM_DAYS * 1440, allow_nan=False)
    fails = [(draw(st.sampled_from(list(Job))), start + timedelta(minutes=draw(offsets)))
             for _ in range(draw(st.integers(0, 3)))]
    manual = [(start + timedelta(minutes=draw(offsets)), "run",
               draw(st.sampled_from([Job.EXTRACT, Job.TRANSFORM, Job.MAINTAIN])), "")
              for _ in range(draw(st.integers(0, 2)))]
    return {"schedule": schedule}, start, durations, fails, manual


def _interval(run: RunInfo, end: datetime) -> tuple[datetime, datetime]:
    assert run.started_at is not None
    return run.started_at, run.ended_at or end


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(scenarios())
def test_scheduler_properties(scenario):
    values, start, durations, fails, manual = scenario
    assume(not [p for p in check_configuration(values) if p.level == "error"])
    opts = ScheduleOptions.from_values(values)
    end = start + timedelta(days=SIM_DAYS)
    sim = Simulation(opts, durations=durations, fails=fails, manual=manual)
    sim.run(start, end)
    runs = [r for r in sim.runs.values() if r.started_at is not None]
    by_scheduler = [r for r in runs if r.by == "scheduler"]

    # Rule 1: never two instances of a job at once.
    for job in Job:
        spans = sorted(_interval(r, end) for r in runs if r.job is job)
        for (_, prev_end), (next_start, _) in zip(spans, spans[1:]):
            assert next_start >= prev_end, f"{job} overlaps itself"

    # Rules 5-7: nothing the scheduler started overlaps its maintenance, except a
    # Job_UpdateStats already running when maintenance began (rule 6's cycle
    # starts only as the maintenance is stopped). Run ids follow start order, so
    # an UpdateStats started earlier at the same instant (say at the tick that
    # stopped aggregation, before maintenance could start) counts as already running.
    for m in (r for r in by_scheduler if r.job is Job.MAINTAIN):
        ms, me = _interval(m, end)
        for r in by_scheduler:
            if r is m:
                continue
            rs, re = _interval(r, end)
            if rs < me and ms < re:
                assert r.job is Job.UPDATE_STATS and (rs, r.id) < (ms, m.id), f"{r} overlaps maintenance {m}"

    # Rule 3: every ETL cycle starts inside the window.
    for r in by_scheduler:
        if r.job is Job.EXTRACT:
            assert windows.etl_window_at(opts, r.started_at) is not None, f"cycle outside the window: {r}"

    # Rule 2: a transform follows a completed extraction of its own cycle, once.
    parents = []
    for r in by_scheduler:
        if r.job is Job.TRANSFORM:
            parent = sim.runs[r.parent_id]
            assert parent.job is Job.EXTRACT and parent.by == "scheduler"
            assert parent.status is Status.COMPLETE and parent.ended_at <= r.started_at
            parents.append(parent.id)
    assert len(parents) == len(set(parents))

    # Rule 8: the scheduler's aggregation starts only inside a window.
    for r in by_scheduler:
        if r.job is Job.AGGREGATE:
            assert windows.aggregation_window_at(opts, r.started_at) is not None

    # Rules 5 and 13: at most one maintenance per local day, never before that day's maintain-start-time.
    starts = [(t, d) for t, d in sim.decisions if d.job is Job.MAINTAIN and d.action is Action.START]
    assert len(starts) == len([r for r in by_scheduler if r.job is Job.MAINTAIN])
    days = [d.maintenance_day for _, d in starts]
    assert len(days) == len(set(days))
    for t, d in starts:
        assert t >= local_to_utc(d.maintenance_day, opts.maintain_start_time, opts.tz)
