"""idb_generate: deterministic, realistic traffic; late updates; the live mode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from infomart import generator, sql
from tests.conftest import ROOT, wait_for
from tests.infomart import helpers as h
from tests.infomart.expect import fetch

IDB = ("g_ir", "g_call", "g_party", "g_party_history", "g_login_session", "g_agent_state_history", "gc_agent",
       "gc_endpoint", "gc_group", "gc_media_type", "idb_deferred")


def reset_idb() -> None:
    for t in IDB + ("idb_generator_state",):
        sql.execute(f"DELETE FROM {t}")


@pytest.mark.django_db
def test_it_generates_the_same_rows_for_the_same_arguments():
    h.generate(days=1, seed=7)
    first = {t: h.table_digest(t, ignore={"id"} if t == "idb_deferred" else set()) for t in IDB}
    reset_idb()
    h.generate(days=1, seed=7)
    assert {t: h.table_digest(t, ignore={"id"} if t == "idb_deferred" else set()) for t in IDB} == first
    reset_idb()
    h.generate(days=1, seed=8)
    assert h.table_digest("g_party", ignore=set()) != first["g_party"]


@pytest.mark.django_db
def test_it_generates_contact_center_traffic():
    out = h.generate(days=2, iph=200, agents=16, queues=5)
    assert "interactions" in out and "deferred" in out
    ny = ZoneInfo(h.NY)
    by_hour = {}
    for r in fetch("SELECT created_ts FROM g_ir"):
        local = datetime.fromtimestamp(r["created_ts"], UTC).astimezone(ny)
        by_hour[local.hour] = by_hour.get(local.hour, 0) + 1
    assert by_hour[10] + by_hour[11] > 4 * (by_hour.get(3, 0) + by_hour.get(4, 0))  # daytime peak
    n = sql.scalar("SELECT COUNT(*) FROM g_ir")
    queued = sql.scalar("SELECT COUNT(*) FROM g_party WHERE type = 4")
    abandoned = sql.scalar("SELECT COUNT(*) FROM g_party WHERE type = 4 AND end_cause = 2")
    assert 0.01 < abandoned / queued < 0.3
    assert queued > n  # transfers queue some interactions twice
    assert sql.scalar("SELECT COUNT(*) FROM g_party WHERE type = 1 AND end_cause = 4") > 0  # transferred
    assert sql.scalar("SELECT COUNT(*) FROM g_party_history WHERE ccevent = 4") > 0  # held
    assert {r["state"] for r in fetch("SELECT DISTINCT state FROM g_agent_state_history")} == {1, 2, 3, 4}
    assert {r["media_type_id"] for r in fetch("SELECT DISTINCT media_type_id FROM g_call")} == {1, 2, 3}
    waits = [r["w"] for r in fetch("SELECT terminated_ts - created_ts AS w FROM g_party WHERE type = 4 "
                                   "AND terminated_ts IS NOT NULL")]
    assert max(waits) > 30 and sorted(waits)[len(waits) // 2] < 120  # waits happen, most are short
    # An agent is in one state at a time: the states of a session never overlap.
    overlaps = sql.scalar("""SELECT COUNT(*) FROM g_agent_state_history a JOIN g_agent_state_history b
        ON a.loginsessionid = b.loginsessionid AND a.id < b.id
        WHERE a.start_ts < b.end_ts AND b.start_ts < a.end_ts""")
    assert overlaps == 0
    # Every interaction ends answered or abandoned (or is still going on at the end).
    assert sql.scalar("""SELECT COUNT(*) FROM g_ir i WHERE i.state = 2 AND NOT EXISTS (SELECT 1 FROM g_party p
        JOIN g_call c ON c.callid = p.callid WHERE c.irid = i.irid AND (p.type = 1 OR p.end_cause = 2))""") == 0


@pytest.mark.django_db
def test_it_writes_calls_in_progress_as_active_and_updates_them_later():
    h.generate(days=1)
    active = [r["id"] for r in fetch("SELECT id FROM g_ir WHERE state = 1")]
    assert active and sql.scalar("SELECT COUNT(*) FROM idb_deferred") > 0
    useq = sql.scalar("SELECT MAX(gsys_useq) FROM g_ir")
    h.generate(end=h.END + timedelta(hours=2), resume=True)
    rows = fetch("SELECT state, terminated_ts, gsys_useq FROM g_ir WHERE id IN (%s)" % ",".join(map(str, active)))
    assert all(r["state"] == 2 and r["terminated_ts"] and r["gsys_useq"] > useq for r in rows)
    assert sql.scalar("SELECT COUNT(*) FROM idb_deferred WHERE due_ts <= %s",
                      [int((h.END + timedelta(hours=2)).timestamp())]) == 0


@pytest.mark.django_db
def test_it_refuses_to_generate_over_existing_traffic():
    from django.core.management.base import CommandError

    h.generate(days=1)
    with pytest.raises(CommandError, match="already has generated traffic"):
        h.generate(days=1)


@pytest.mark.django_db
def test_the_live_mode_appends_traffic_as_time_goes_by():
    start = datetime(2026, 5, 4, 14, 0, tzinfo=UTC).timestamp()
    generator.load_state()
    live = generator.Live(layout=generator.Layout(agents=10, queues=4), seed=3, rate_per_minute=12,
                          tz=ZoneInfo(h.NY), start=start)
    counts = []
    for minute in range(1, 11):
        live.tick(start + minute * 60)
        counts.append(sql.scalar("SELECT COUNT(*) FROM g_ir"))
    live.stop(start + 11 * 60)
    assert counts[0] < counts[4] < counts[-1]
    assert 60 < sql.scalar("SELECT COUNT(*) FROM g_ir") < 200  # about 12 a minute
    assert sql.scalar("SELECT MAX(created_ts) FROM g_ir") < start + 11 * 60
    # At the stop everyone finishes the call in hand and logs out: those logouts are due later.
    assert sql.scalar("SELECT COUNT(*) FROM g_login_session WHERE logout_ts IS NULL") == \
        sql.scalar("SELECT COUNT(*) FROM idb_deferred WHERE table_name = 'g_login_session' AND op = 'update'")


@pytest.mark.django_db(transaction=True)
def test_the_live_command_stops_cleanly_on_sigterm():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "gimmanager.settings",
           "DATABASE_URL": os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]}
    env.pop("GIM_TEST_DATABASE_NAME", None)
    proc = subprocess.Popen([sys.executable, "manage.py", "idb_generate", "--live", "--rate", "120", "--tick", "0.2",
                             "--agents", "8", "--queues", "3", "--tz", "UTC", "--skip-checks"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: sql.scalar("SELECT COUNT(*) FROM g_ir") > 0, 30, "live traffic", interval=0.2)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "stopped cleanly" in out
    assert sql.scalar("SELECT COUNT(*) FROM g_login_session WHERE logout_ts IS NULL") == \
        sql.scalar("SELECT COUNT(*) FROM idb_deferred WHERE table_name = 'g_login_session' AND op = 'update'")
