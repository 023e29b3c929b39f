"""Job_AggregateGIM: every AG2 view at every level equals the facts (and the source),
in a DST zone across New York's spring-forward night; re-aggregation; hierarchies."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from gimmanager import clock
from gimmanager.catalog import Job
from gimmanager.formats import local_to_utc
from gimmanager.jobs.models import ReaggregationRequest
from infomart import hierarchies, sql
from infomart.jobs import aggregate as agg
from tests.infomart import expect
from tests.infomart import helpers as h

pytestmark = pytest.mark.django_db

NYZ = ZoneInfo(h.NY)
VALS = h.values(schedule__timezone=h.NY, gim_etl__days_to_keep_active_facts="3650")


@pytest.fixture
def mart():
    h.generate()
    h.etl(VALS)
    h.aggregate(VALS)


@pytest.mark.parametrize("name", ["H_QUEUE", "H_AGENT", "H_QUEUE_ABN", "H_AGENT_QUEUE"])
def test_it_aggregates_what_the_facts_say_at_every_level_across_dst_new_york_2026_03_08(mart, name):
    hier = hierarchies.BY_NAME[name]
    for level in hierarchies.LEVELS:
        want = expect.normalized(expect.EXPECTED[name](level, NYZ), hier)
        got = expect.actual(hier, level)
        assert want, f"the facts should produce {level} rows"
        assert got == want, level


def test_it_counts_queue_traffic_as_the_source_does_per_local_hour(mart):
    # Straight from the IDB: queue parties by queue and local hour of entering.
    want: dict[tuple[int, int], tuple[int, int]] = {}
    for r in expect.fetch("SELECT endpoint_id, created_ts, end_cause FROM g_party WHERE type = 4"):
        key = (expect.level_start(r["created_ts"], "HOUR", NYZ), r["endpoint_id"])
        entered, abandoned = want.get(key, (0, 0))
        want[key] = (entered + 1, abandoned + (r["end_cause"] == 2))
    got = {}
    for r in expect.fetch("SELECT q.date_time_key, r.resource_cfg_dbid, SUM(q.entered) AS e, SUM(q.abandoned) AS a "
                          "FROM ag2_queue_hour q JOIN resource_ r ON r.resource_key = q.resource_key "
                          "GROUP BY q.date_time_key, r.resource_cfg_dbid"):
        got[(r["date_time_key"], r["resource_cfg_dbid"])] = (int(r["e"]), int(r["a"]))
    assert got == want


def test_rule13_spring_forward_day_new_york_2026_03_08_has_23_hours_and_ends_at_local_midnight(mart):
    day = int(local_to_utc(datetime(2026, 3, 8).date(), time(0), NYZ).timestamp())
    nxt = int(local_to_utc(datetime(2026, 3, 9).date(), time(0), NYZ).timestamp())
    assert nxt - day == 23 * 3600
    hours = {r["date_time_key"] for r in expect.fetch(
        "SELECT DISTINCT date_time_key FROM ag2_agent_hour WHERE date_time_key >= %s AND date_time_key < %s",
        [day, nxt])}
    assert len(hours) <= 23 and all((k - day) % 3600 == 0 for k in hours)
    labels = {r["interval_label"] for r in expect.fetch(
        "SELECT DISTINCT interval_label FROM ag2_agent_hour WHERE date_time_key >= %s AND date_time_key < %s",
        [day, nxt])}
    assert not any(label.endswith("02:00") for label in labels)  # 02:00-03:00 does not exist that night
    days = {r["date_time_key"]: r["interval_label"] for r in expect.fetch(
        "SELECT DISTINCT date_time_key, interval_label FROM ag2_queue_day")}
    assert days[day] == "2026-03-08" and days[nxt] == "2026-03-09"
    # The day is the sum of its hours.
    total_hours = sql.scalar("SELECT SUM(entered) FROM agt_queue_hour WHERE date_time_key >= %s AND "
                             "date_time_key < %s", [day, nxt])
    assert sql.scalar("SELECT SUM(entered) FROM agt_queue_day WHERE date_time_key = %s", [day]) == total_hours


def _request(ctx, params: str) -> ReaggregationRequest:
    from gimmanager.reagg import parse

    r = parse(params)
    return ReaggregationRequest.objects.create(run_id=ctx.run_id, params=params, agg_set=r.agg_set,
                                               start_date=r.start, end_date=r.end, requested_by="test",
                                               requested_at=clock.now())


def test_it_reaggregates_a_range_to_the_same_numbers_and_leaves_the_rest_alone(mart):
    before = {t: h.table_digest(t) for t in hierarchies.all_tables()}
    ctx = h.make_ctx(Job.AGGREGATE, VALS)
    # Damage the aggregates of the range and outside it, as a bad fix would.
    day = int(local_to_utc(datetime(2026, 3, 8).date(), time(0), NYZ).timestamp())
    sql.execute("UPDATE agt_queue_hour SET entered = entered + 100 WHERE date_time_key >= %s AND "
                "date_time_key < %s", [day, day + 23 * 3600])
    sql.execute("DELETE FROM agt_queue_hour WHERE date_time_key >= %s AND date_time_key < %s",
                [day + 3600, day + 7200])
    outside = sql.scalar("SELECT COUNT(*) FROM agt_queue_hour WHERE date_time_key < %s OR date_time_key >= %s",
                         [day, day + 23 * 3600])
    req = _request(ctx, "-insertPendingAgg H_QUEUE-HOUR:2026-03-08:2026-03-09")
    agg.run_once(ctx)
    req.refresh_from_db()
    assert req.state == "done", req.result
    assert "H_QUEUE-HOUR" in req.result and "America/New_York" in req.result
    after = {t: h.table_digest(t) for t in hierarchies.all_tables()}
    assert after == before  # same numbers: no duplicate, no gap
    assert sql.scalar("SELECT COUNT(*) FROM agt_queue_hour WHERE date_time_key < %s OR date_time_key >= %s",
                      [day, day + 23 * 3600]) == outside


def test_it_reaggregates_only_the_named_set_and_range(mart):
    ctx = h.make_ctx(Job.AGGREGATE, VALS)
    sql.execute("UPDATE agt_queue_hour SET entered = entered + 1000")
    sql.execute("UPDATE agt_agent_hour SET offered = offered + 1000")
    _request(ctx, "-insertPendingAgg H_QUEUE-HOUR:2026-03-08:2026-03-09")
    agg.run_once(ctx)
    day = int(local_to_utc(datetime(2026, 3, 8).date(), time(0), NYZ).timestamp())
    nxt = day + 23 * 3600
    assert sql.scalar("SELECT MIN(entered) FROM agt_queue_hour WHERE date_time_key >= %s AND date_time_key < %s",
                      [day, nxt]) < 1000  # recomputed
    assert sql.scalar("SELECT MIN(entered) FROM agt_queue_hour WHERE date_time_key < %s", [day]) >= 1000  # untouched
    assert sql.scalar("SELECT MIN(offered) FROM agt_agent_hour") >= 1000  # other hierarchy untouched


def test_it_reaggregates_allsets_and_one_flavor(mart):
    before = {t: h.table_digest(t) for t in hierarchies.all_tables()}
    ctx = h.make_ctx(Job.AGGREGATE, VALS)
    for t in hierarchies.all_tables():
        sql.execute(f"DELETE FROM {t}")
    _request(ctx, "-insertPendingAgg ALLSETS:2026-01-01:2026-04-01")
    agg.run_once(ctx)
    assert {t: h.table_digest(t) for t in hierarchies.all_tables()} == before
    # Offline (email) only: online rows are left as they are.
    sql.execute("UPDATE agt_queue_subhr SET entered = entered + 1000")
    _request(ctx, "-insertPendingAgg H_QUEUE-SUBHOUR.Offline:2026-03-01:2026-03-31")
    agg.run_once(ctx)
    offline = sql.scalar("SELECT MAX(a.entered) FROM agt_queue_subhr a JOIN media_type m "
                         "ON m.media_type_key = a.media_type_key WHERE m.is_online = %s", [False])
    online = sql.scalar("SELECT MIN(a.entered) FROM agt_queue_subhr a JOIN media_type m "
                        "ON m.media_type_key = a.media_type_key WHERE m.is_online = %s", [True])
    assert offline < 1000 <= online


def test_it_refuses_a_hierarchy_that_is_not_deployed_with_a_clear_reason(mart):
    before = h.table_digest("agt_queue_hour")
    ctx = h.make_ctx(Job.AGGREGATE, VALS)
    req = _request(ctx, "-insertPendingAgg H_QUEUE,H_ID-HOUR:2026-03-08:2026-03-09")
    sql.execute("UPDATE agt_queue_hour SET entered = entered + 1")
    damaged = h.table_digest("agt_queue_hour")
    agg.run_once(ctx)
    req.refresh_from_db()
    assert req.state == "failed"
    assert "H_ID is not deployed" in req.result and "H_QUEUE" in req.result and "nothing was changed" in req.result
    assert h.table_digest("agt_queue_hour") == damaged != before


def test_it_offers_only_deployed_hierarchies():
    assert hierarchies.available() == ("H_AGENT", "H_QUEUE", "H_QUEUE_ABN", "H_AGENT_QUEUE")
    from gimmanager.reagg import HIERARCHIES

    assert set(hierarchies.available()) <= set(HIERARCHIES)
    for name in hierarchies.available():
        for level in hierarchies.LEVELS:
            assert sql.table_exists(hierarchies.BY_NAME[name].view_name(level))


def test_it_builds_a_new_hierarchy_from_its_one_definition(monkeypatch):
    extra = hierarchies.Hierarchy(
        name="H_QUEUE_GRP", table="QUEUE_GRP_TEST", dims=(hierarchies.Dim("media_type_key", "media_type"),),
        measures=(hierarchies.Measure("entered"),),
        sources=(hierarchies.Source("SELECT m.start_date_time_key AS date_time_key, m.media_type_key AS "
                                    "media_type_key, 1 AS entered FROM mediation_segment_fact m WHERE "
                                    "m.start_date_time_key >= %(lo)s AND m.start_date_time_key < %(hi)s",
                                    ("entered",)),),
        help="test")
    monkeypatch.setattr(hierarchies, "HIERARCHIES", hierarchies.HIERARCHIES + (extra,))
    monkeypatch.setitem(hierarchies.BY_NAME, "H_QUEUE_GRP", extra)
    h.generate(days=0.5)
    h.etl(VALS)
    h.aggregate(VALS)
    assert "H_QUEUE_GRP" in hierarchies.available()
    assert sql.scalar("SELECT SUM(entered) FROM ag2_queue_grp_test_year") == \
        sql.scalar("SELECT COUNT(*) FROM mediation_segment_fact")


def test_it_aggregates_late_updates_incrementally():
    h.generate(days=1)
    h.etl(VALS)
    h.aggregate(VALS)
    h.generate(end=h.END.replace(hour=20), resume=True)
    h.etl(VALS)
    assert sql.scalar("SELECT COUNT(*) FROM ctl_pending_agg") > 0
    h.aggregate(VALS)
    assert sql.scalar("SELECT COUNT(*) FROM ctl_pending_agg") == 0
    for name, fn in expect.EXPECTED.items():
        hier = hierarchies.BY_NAME[name]
        for level in ("SUBHOUR", "DAY", "YEAR"):
            assert expect.actual(hier, level) == expect.normalized(fn(level, NYZ), hier), (name, level)


def test_it_rebuilds_the_aggregates_when_the_timezone_changes(mart):
    berlin = h.values(schedule__timezone="Europe/Berlin", gim_etl__days_to_keep_active_facts="3650")
    h.aggregate(berlin)
    hier = hierarchies.BY_NAME["H_QUEUE"]
    assert expect.actual(hier, "DAY") == expect.normalized(expect.h_queue("DAY", ZoneInfo("Europe/Berlin")), hier)


def test_it_stops_between_pieces_and_the_next_run_finishes():
    h.generate()
    h.etl(VALS)
    ctx = h.disturbed_ctx(Job.AGGREGATE, VALS, n=2)
    agg.prepare(ctx)
    with pytest.raises(Exception, match="test stop"):
        agg.run_once(ctx)
    assert sql.scalar("SELECT COUNT(*) FROM ctl_pending_agg") > 0
    h.aggregate(VALS)
    hier = hierarchies.BY_NAME["H_AGENT"]
    assert expect.actual(hier, "HOUR") == expect.normalized(expect.h_agent("HOUR", NYZ), hier)


def test_it_ends_when_the_aggregation_window_closes(monkeypatch):
    monkeypatch.setattr(agg, "in_window", lambda: False)
    ctx = h.make_ctx(Job.AGGREGATE, VALS)
    agg.run(ctx)  # returns instead of looping
    assert any("window has ended" in m for _, _, m in ctx.drain()[0])


def test_utc_keys_are_interval_starts():
    assert sql.interval_key(int(datetime(2026, 3, 8, 7, 14, 59, tzinfo=UTC).timestamp())) == \
        int(datetime(2026, 3, 8, 7, 0, tzinfo=UTC).timestamp())
