"""Rule 13: on daylight-saving days a local time that does not exist fires at the
first instant after the gap, a local time that occurs twice fires once, and
maintenance still runs at most once per local day."""

from __future__ import annotations

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest

from gimmanager.catalog import Job
from scheduler.simulator import simulate
from tests.engine.helpers import BERLIN, NY, at, options


def _starts(events, job):
    """ISO local times (with offset) of a job's starts."""
    return [e.time.isoformat() for e in events if e.job is job and e.event == "started"]


def test_rule13_spring_forward_new_york_2026_03_08_maintenance_in_the_gap():
    opts = options(NY, etl_start_time="06:30", etl_end_time="00:30", run_maintain="true",
                   maintain_start_time="02:30")
    events = simulate(opts, at("2026-03-08T00:45", NY), at("2026-03-09T00:45", NY))
    assert _starts(events, Job.MAINTAIN) == ["2026-03-08T03:00:00-04:00"]
    assert events[0].time.astimezone(UTC).hour == 7


def test_rule13_spring_forward_new_york_2026_03_08_update_stats_gap_ticks_fire_once():
    opts = options(NY, etl_start_time="06:30", etl_end_time="00:30", run_update_stats="true")
    events = simulate(opts, at("2026-03-08T01:30", NY), at("2026-03-08T03:25", NY))
    # 02:00-02:50 do not exist: they fire once, at 03:00 EDT, together with 03:00 itself.
    assert _starts(events, Job.UPDATE_STATS) == [
        "2026-03-08T01:30:00-05:00", "2026-03-08T01:40:00-05:00", "2026-03-08T01:50:00-05:00",
        "2026-03-08T03:00:00-04:00", "2026-03-08T03:10:00-04:00", "2026-03-08T03:20:00-04:00"]


def test_rule13_spring_forward_new_york_2026_03_08_etl_cycles_keep_elapsed_spacing():
    opts = options(NY, etl_start_time="18:00", etl_end_time="06:00", etl_frequency="60")
    events = simulate(opts, at("2026-03-07T23:30", NY), at("2026-03-08T07:00", NY))
    assert _starts(events, Job.EXTRACT) == [
        "2026-03-07T23:30:00-05:00", "2026-03-08T00:30:00-05:00", "2026-03-08T01:30:00-05:00",
        "2026-03-08T03:30:00-04:00", "2026-03-08T04:30:00-04:00", "2026-03-08T05:30:00-04:00"]


def test_rule13_fall_back_new_york_2026_11_01_maintenance_at_the_repeated_time_runs_once():
    opts = options(NY, etl_start_time="06:30", etl_end_time="00:30", run_maintain="true",
                   maintain_start_time="01:30", run_update_stats="true", update_stats_schedule="30 1")
    events = simulate(opts, at("2026-11-01T00:45", NY), at("2026-11-02T00:45", NY))
    assert _starts(events, Job.MAINTAIN) == ["2026-11-01T01:30:00-04:00"]
    assert _starts(events, Job.UPDATE_STATS) == []  # suspended: the only tick falls in maintenance
    assert [e.event for e in events if e.job is Job.UPDATE_STATS] == ["skipped"]


def test_rule13_fall_back_new_york_2026_11_01_repeated_cron_time_fires_once():
    opts = options(NY, etl_start_time="06:30", etl_end_time="00:30", run_update_stats="true",
                   update_stats_schedule="30 1")
    events = simulate(opts, at("2026-11-01T00:00", NY), at("2026-11-01T03:00", NY))
    assert _starts(events, Job.UPDATE_STATS) == ["2026-11-01T01:30:00-04:00"]


def test_rule13_spring_forward_berlin_2026_03_29_maintenance_in_the_gap():
    opts = options(BERLIN, etl_start_time="06:30", etl_end_time="00:30", run_maintain="true",
                   maintain_start_time="02:15")
    events = simulate(opts, at("2026-03-28T12:00", BERLIN), at("2026-03-30T01:00", BERLIN))
    assert _starts(events, Job.MAINTAIN) == ["2026-03-29T03:00:00+02:00"]


def test_rule13_spring_forward_berlin_2026_03_29_aggregation_window_opens_after_the_gap():
    # The window is 02:30-03:30 on the wall clock; 02:30 does not exist that day,
    # so it opens at the first instant after the gap and still ends at 03:30.
    opts = options(BERLIN, etl_start_time="06:30", etl_end_time="00:30", run_aggregates="true",
                   aggregate_schedule="30 2", aggregate_duration="01:00")
    events = simulate(opts, at("2026-03-29T01:00", BERLIN), at("2026-03-29T05:00", BERLIN))
    assert [(e.time.isoformat(), e.event) for e in events] == [
        ("2026-03-29T03:00:00+02:00", "started"), ("2026-03-29T03:30:00+02:00", "stopped")]


@pytest.mark.parametrize("tz, day", [(BERLIN, "2026-03-29"), (BERLIN, "2026-10-25"),
                                     (NY, "2026-03-08"), (NY, "2026-11-01")])
def test_rule13_sample_schedule_keeps_its_maintenance_hour_on_dst_days(tz, day):
    # aggregate-duration is wall-clock time: 04:00 + 23:00 ends at 03:00 local on
    # 23- and 25-hour days too, so the seed's one-hour maintenance gap survives.
    opts = options(tz, etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30",
                   run_maintain="true", maintain_start_time="03:00", run_aggregates="true",
                   aggregate_schedule="0 4", aggregate_duration="23:00")
    events = simulate(opts, at(f"{day}T00:00", tz) - timedelta(days=1), at(f"{day}T12:00", tz))
    maint = [e.time.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") for e in events
             if e.job is Job.MAINTAIN and e.event == "started"]
    assert maint[-1] == f"{day} 03:00"


def test_rule13_fall_back_berlin_2026_10_25_maintenance_once_at_the_first_02_30():
    opts = options(BERLIN, etl_start_time="06:30", etl_end_time="00:30", run_maintain="true",
                   maintain_start_time="02:30")
    events = simulate(opts, at("2026-10-25T00:45", BERLIN), at("2026-10-26T00:45", BERLIN),
                      durations={Job.MAINTAIN: 20})
    assert [(e.time.isoformat(), e.event) for e in events if e.job is Job.MAINTAIN] == [
        ("2026-10-25T02:30:00+02:00", "started"), ("2026-10-25T02:50:00+02:00", "completed")]


def test_rule13_fall_back_berlin_2026_10_25_etl_cycles_keep_elapsed_spacing():
    opts = options(BERLIN, etl_start_time="18:00", etl_end_time="04:00", etl_frequency="60")
    events = simulate(opts, at("2026-10-25T00:00", BERLIN), at("2026-10-25T05:00", BERLIN))
    # The wall clock shows 02:00 twice; the cycles stay an hour apart.
    assert _starts(events, Job.EXTRACT) == [
        "2026-10-25T00:00:00+02:00", "2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00", "2026-10-25T04:00:00+01:00"]


def test_rule13_fall_back_berlin_2026_10_25_aggregation_window_ends_on_the_wall_clock():
    # 02:30 (first occurrence, CEST) + 01:00 on the wall clock = 03:30 CET: two real hours.
    opts = options(BERLIN, etl_start_time="06:30", etl_end_time="00:30", run_aggregates="true",
                   aggregate_schedule="30 2", aggregate_duration="01:00")
    events = simulate(opts, at("2026-10-25T01:00", BERLIN), at("2026-10-25T05:00", BERLIN))
    assert [(e.time.isoformat(), e.event) for e in events] == [
        ("2026-10-25T02:30:00+02:00", "started"), ("2026-10-25T03:30:00+01:00", "stopped")]


def test_rule13_spring_forward_new_york_2026_03_08_etl_window_opening_in_the_gap():
    opts = options(NY, etl_start_time="02:30", etl_end_time="05:00", etl_frequency="60")
    events = simulate(opts, at("2026-03-08T00:00", NY), at("2026-03-08T06:00", NY))
    assert _starts(events, Job.EXTRACT) == [
        "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00", "2026-03-08T05:00:00-04:00"]


def test_rule13_fall_back_new_york_2026_11_01_etl_end_in_the_repeated_hour_is_its_first_occurrence():
    opts = options(NY, etl_start_time="00:00", etl_end_time="01:30", etl_frequency="30")
    events = simulate(opts, at("2026-11-01T00:00", NY), at("2026-11-01T03:00", NY))
    # 00:00, 00:30, 01:00 and 01:30 EDT; the second 01:00 and 01:30 (EST) are past the window.
    assert _starts(events, Job.EXTRACT) == [
        "2026-11-01T00:00:00-04:00", "2026-11-01T00:30:00-04:00", "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:30:00-04:00"]
