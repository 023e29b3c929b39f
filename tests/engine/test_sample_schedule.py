"""The seed's sample schedule over two whole days, through the simulator:
etl-start-time 06:30, etl-end-time 00:30, etl-frequency 30, maintain-start-time
03:00, aggregate-schedule `0 4`, aggregate-duration 23:00."""

from __future__ import annotations

from datetime import datetime, timedelta

from gimmanager.catalog import Job
from scheduler.simulator import simulate
from tests.engine.helpers import NY, at, lines, sample, starts


def _every(first: datetime, last: datetime, minutes: int) -> list[datetime]:
    out, t = [], first
    while t <= last:
        out.append(t)
        t += timedelta(minutes=minutes)
    return out


def _hm(ts: list[datetime]) -> list[str]:
    return [f"{t:%m-%d %H:%M}" for t in ts]


EVENTS = simulate(sample(), at("2026-05-01T00:00"), at("2026-05-03T00:00"))


def test_sample_schedule_etl_cycles_every_half_hour_from_06_30_to_00_30():
    # 00:00 May 1 lies in the window opened on April 30: the first cycle starts at
    # once (rule 4), the last one at 00:30 (rule 3); then from 06:30 every 30 minutes.
    expected = (
        [at("2026-05-01T00:00"), at("2026-05-01T00:30")]
        + _every(at("2026-05-01T06:30"), at("2026-05-02T00:30"), 30)
        + _every(at("2026-05-02T06:30"), at("2026-05-02T23:30"), 30)
    )
    assert starts(EVENTS, Job.EXTRACT) == _hm(expected)
    assert len(expected) == 2 + 37 + 35
    assert starts(EVENTS, Job.TRANSFORM) == _hm([t + timedelta(minutes=5) for t in expected])


def test_sample_schedule_maintenance_and_aggregation_share_the_night():
    assert lines(EVENTS, job=None, kinds=None)[:1] == ["05-01 00:00 Job_ExtractICON started scheduler"]
    night = [line for line in lines(EVENTS) if line.split()[2] in ("Job_MaintainGIM", "Job_AggregateGIM")]
    assert night == [
        "05-01 00:00 Job_AggregateGIM started scheduler",   # inside the 04:00-03:00 window at start
        "05-01 03:00 Job_AggregateGIM stopped scheduler",   # the window ends ...
        "05-01 03:00 Job_MaintainGIM started scheduler",    # ... and maintenance runs alone
        "05-01 03:30 Job_MaintainGIM completed scheduler",
        "05-01 04:00 Job_AggregateGIM started scheduler",
        "05-02 03:00 Job_AggregateGIM stopped scheduler",
        "05-02 03:00 Job_MaintainGIM started scheduler",
        "05-02 03:30 Job_MaintainGIM completed scheduler",
        "05-02 04:00 Job_AggregateGIM started scheduler",
    ]


def test_sample_schedule_has_nothing_else_and_times_are_in_the_configured_zone():
    assert {e.job for e in EVENTS} == {Job.EXTRACT, Job.TRANSFORM, Job.MAINTAIN, Job.AGGREGATE}
    assert {e.event for e in EVENTS} == {"started", "completed", "stopped"}
    assert all(e.by == "scheduler" for e in EVENTS)
    assert all(str(e.time.tzinfo) == NY for e in EVENTS)
    assert len(EVENTS) == 74 * 4 + 2 * 2 + 5  # cycles (4 events each), maintenance, aggregation
