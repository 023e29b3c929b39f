"""Job_MaintainGIM: purge by each days-to-keep-* option, calendars, partitions, stop and continue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from gimmanager import clock
from gimmanager.catalog import Job, Status
from gimmanager.jobs.context import StopRequested
from gimmanager.jobs.models import JobLogEntry, JobRun
from infomart import calendar, hierarchies, partitions, sql
from infomart.jobs import maintain
from tests.infomart import helpers as h
from tests.infomart.expect import fetch

pytestmark = pytest.mark.django_db

# Ten days after the generated traffic (2026-03-07 12:00 to 2026-03-10 00:00 UTC).
CURRENT_TIME = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
FACTS_CUTOFF = int(datetime(2026, 3, 8, 12, 0, tzinfo=UTC).timestamp())  # 12 days: inside a partition's day
GIDB_CUTOFF = int(datetime(2026, 3, 9, 12, 0, tzinfo=UTC).timestamp())  # 11 days
HISTORY_CUTOFF = int(datetime(2026, 3, 10, 12, 0, tzinfo=UTC).timestamp())  # 10 days

VALS = h.values(schedule__timezone=h.NY, date_time__date_time_tz="Europe/Berlin",
                gim_etl__days_to_keep_gim_facts="12", gim_etl__days_to_keep_cfg_facts="12",
                gim_etl__days_to_keep_gidb_facts="11", gim_etl__days_to_keep_discards_and_job_history="10",
                gim_etl__days_to_keep_active_facts="3650", gim_etl__partitioning_ahead_range="3",
                date_time__date_time_max_days_ahead="30", date_time__date_time_min_days_ahead="10")

FACTS = ("interaction_fact", "interaction_resource_fact", "mediation_segment_fact", "sm_res_state_fact",
         "sm_res_session_fact")


@pytest.fixture
def loaded():
    with time_machine.travel(CURRENT_TIME - timedelta(days=9), tick=False):
        h.generate(days=2.5, end=datetime(2026, 3, 10, tzinfo=UTC))
        h.etl(VALS)
        h.aggregate(VALS)
    # Control rows and job runs of various ages.
    sql.execute("UPDATE ctl_extract_history SET created_ts = %s WHERE id %% 2 = 0", [HISTORY_CUTOFF - 60])
    sql.execute("UPDATE ctl_transform_history SET created_ts = %s WHERE id %% 2 = 0", [HISTORY_CUTOFF - 60])
    sql.execute("UPDATE ctl_audit_log SET created_ts = %s WHERE audit_key %% 3 = 0", [HISTORY_CUTOFF - 1])
    old = datetime.fromtimestamp(HISTORY_CUTOFF, UTC)
    for age, status in ((-1, Status.COMPLETE), (+1, Status.COMPLETE), (-5, Status.FAILED)):
        at = old + timedelta(seconds=age)
        run = JobRun.objects.create(job=Job.EXTRACT, status=status, by="manual", requested_by="t",
                                    requested_at=at, started_at=at, ended_at=at)
        JobLogEntry.objects.create(run=run, at=at, message="x")


def _expected() -> dict[str, object]:
    out: dict[str, object] = {}
    for t in FACTS:
        out[t] = sql.rows(f"SELECT COUNT(*) FROM {t} WHERE start_ts >= %s", [FACTS_CUTOFF])[0][0]
    for t in maintain.EVENT_STAGING:
        out[t] = sql.scalar(f"SELECT COUNT(*) FROM {t} WHERE gsys_ts >= %s", [GIDB_CUTOFF])
    cal = fetch("SELECT * FROM date_time_agg WHERE date_time_key = %s", [FACTS_CUTOFF // 900 * 900])[0]
    for hier in hierarchies.HIERARCHIES:
        for level in hierarchies.LEVELS:
            start = cal[hierarchies.LEVEL_KEY[level]]
            out[hier.table_name(level)] = sql.scalar(
                f"SELECT COUNT(*) FROM {hier.table_name(level)} WHERE date_time_key >= %s", [start])
    out["ctl_extract_history"] = sql.scalar(
        "SELECT COUNT(*) FROM ctl_extract_history WHERE created_ts >= %s OR id IN "
        "(SELECT MAX(id) FROM ctl_extract_history GROUP BY table_name)", [HISTORY_CUTOFF])
    out["ctl_transform_history"] = sql.scalar(
        "SELECT COUNT(*) FROM ctl_transform_history WHERE created_ts >= %s OR id IN "
        "(SELECT MAX(id) FROM ctl_transform_history GROUP BY hwm_name)", [HISTORY_CUTOFF])
    out["ctl_audit_log"] = sql.scalar("SELECT COUNT(*) FROM ctl_audit_log WHERE created_ts >= %s", [HISTORY_CUTOFF])
    # The 1-second-too-old COMPLETE run and the FAILED one go (maintenance's own runs not counted).
    out["runs"] = JobRun.objects.exclude(job=Job.MAINTAIN).count() - 2
    return out


def _actual(expected: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {k: sql.scalar(f"SELECT COUNT(*) FROM {k}") for k in expected if k != "runs"}
    out["runs"] = JobRun.objects.exclude(job=Job.MAINTAIN).count()
    return out


def _maintain(vals=VALS, ctx=None):
    with time_machine.travel(CURRENT_TIME, tick=False):
        ctx = ctx or h.make_ctx(Job.MAINTAIN, vals)
        maintain.run(ctx)
    return ctx


def test_it_purges_exactly_what_each_retention_option_makes_old(loaded):
    expected = _expected()
    assert all(expected.values()), f"each table should keep something: {expected}"
    before = _actual(expected)
    assert all(before[k] > expected[k] for k in FACTS + maintain.EVENT_STAGING), "and lose something"
    _maintain()
    assert _actual(expected) == expected
    # What is kept is what is young enough, not just the right number of rows.
    for t in FACTS:
        assert sql.scalar(f"SELECT MIN(start_ts) FROM {t}") >= FACTS_CUTOFF
    assert sql.scalar("SELECT MIN(date_time_key) FROM agt_queue_subhr") >= FACTS_CUTOFF - 900
    assert not JobLogEntry.objects.filter(run__requested_at__lt=datetime.fromtimestamp(HISTORY_CUTOFF, UTC))
    # The marks survive: a new ETL cycle does not re-extract anything.
    with time_machine.travel(CURRENT_TIME, tick=False):
        h.run_job(Job.EXTRACT, VALS)
    assert sql.scalar("SELECT COUNT(*) FROM gidb_g_ir") == expected["gidb_g_ir"]


def test_it_keeps_staged_rows_not_yet_transformed(loaded):
    sql.execute("DELETE FROM ctl_transform_history WHERE hwm_name = 'gidb_g_party'")
    staged = sql.scalar("SELECT COUNT(*) FROM gidb_g_party")
    _maintain()
    assert sql.scalar("SELECT COUNT(*) FROM gidb_g_party") == staged


def test_it_fills_both_calendars_the_configured_days_ahead(loaded):
    now = int(CURRENT_TIME.timestamp())
    assert calendar.days_ahead("date_time", now) < 0
    ctx = _maintain()
    for table, tz in (("date_time", "Europe/Berlin"), ("date_time_agg", h.NY)):
        first, last, zone = calendar.bounds(table)
        assert zone == tz
        assert last + 900 >= now + 30 * 86400
        assert sql.scalar(f"SELECT COUNT(*) FROM {table}") == (last - first) // 900 + 1  # no hole
    assert any("date-time-min-days-ahead" in m for _, _, m in ctx.drain()[0])
    rows = sql.scalar("SELECT COUNT(*) FROM date_time")
    _maintain()  # 30 days ahead left: more than date-time-min-days-ahead, nothing to add
    assert sql.scalar("SELECT COUNT(*) FROM date_time") == rows
    berlin = fetch("SELECT local_datetime, cal_date FROM date_time WHERE date_time_key = %s",
                   [int(datetime(2026, 3, 29, 1, 0, tzinfo=UTC).timestamp())])[0]
    assert berlin["local_datetime"] == "2026-03-29 03:00"  # Berlin springs forward at 01:00 UTC


@pytest.mark.skipif("not __import__('infomart.partitions').partitions.enabled()")
def test_it_drops_expired_partitions_and_creates_new_ones(loaded):
    day = int(datetime(2026, 3, 7, tzinfo=UTC).timestamp())
    for t in partitions.PARTITIONED_FACTS:
        assert day in partitions.existing(t)
    ctx = _maintain()
    for t in partitions.PARTITIONED_FACTS:
        have = partitions.existing(t)
        assert day not in have  # 2026-03-07 is wholly older than the cutoff: dropped
        assert day + 86400 in have  # 2026-03-08 straddles it: kept, its old rows deleted
        for ahead in range(4):
            assert int(datetime(2026, 3, 20 + ahead, tzinfo=UTC).timestamp()) in have
    log = " ".join(m for _, _, m in ctx.drain()[0])
    assert "dropped 4 expired partitions" in log and "partitioning-ahead-range" in log


def test_it_stops_at_a_safe_point_and_the_next_run_continues(loaded):
    expected = _expected()
    for n in (2, 4, 7):
        ctx = h.disturbed_ctx(Job.MAINTAIN, VALS, n=n)
        with pytest.raises(StopRequested):
            _maintain(ctx=ctx)
    _maintain()
    assert _actual(expected) == expected


def test_it_never_purges_running_jobs(loaded):
    at = datetime.fromtimestamp(HISTORY_CUTOFF - 86400, UTC)
    JobRun.objects.create(job=Job.AGGREGATE, status=Status.RUNNING, by="manual", requested_by="t",
                          requested_at=at, started_at=at)
    _maintain()
    assert JobRun.objects.filter(status=Status.RUNNING, job=Job.AGGREGATE).exists()
    assert clock.now()  # the clock is back
