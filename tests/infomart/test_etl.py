"""Job_ExtractICON and Job_TransformGIM on generated traffic: completeness, marks,
late updates, and stop or failure between chunks."""

from __future__ import annotations

import pytest

from gimmanager.catalog import Job
from gimmanager.jobs.context import StopRequested
from infomart import control, sql
from infomart.jobs import extract, transform
from tests.infomart import helpers as h
from tests.infomart.expect import fetch

pytestmark = pytest.mark.django_db

VALS = h.values(schedule__timezone=h.NY, gim_etl__extract_data_chunk_size="400",
                gim_etl__days_to_keep_active_facts="3650")


def test_it_puts_every_source_interaction_once_in_interaction_fact():
    h.generate()
    h.etl(VALS)
    src = {r["id"] for r in fetch("SELECT id FROM g_ir")}
    facts = [r["interaction_id"] for r in fetch("SELECT interaction_id FROM interaction_fact")]
    assert len(src) > 3000
    assert len(facts) == len(set(facts)) == len(src)
    assert set(facts) == src


def test_it_builds_one_segment_fact_per_queue_and_agent_party():
    h.generate()
    h.etl(VALS)
    counts = {r["type"]: r["n"] for r in fetch("SELECT type, COUNT(*) AS n FROM g_party GROUP BY type")}
    assert sql.scalar("SELECT COUNT(*) FROM mediation_segment_fact") == counts[4]
    assert sql.scalar("SELECT COUNT(*) FROM interaction_resource_fact") == counts[1]
    assert sql.scalar("SELECT COUNT(*) FROM sm_res_state_fact") == \
        sql.scalar("SELECT COUNT(*) FROM g_agent_state_history")
    assert sql.scalar("SELECT COUNT(*) FROM sm_res_session_fact") == sql.scalar("SELECT COUNT(*) FROM g_login_session")
    # Abandons and answers agree with the source parties and their events.
    assert sql.scalar("SELECT COUNT(*) FROM mediation_segment_fact WHERE technical_result = 'ABANDONED'") == \
        sql.scalar("SELECT COUNT(*) FROM g_party WHERE type = 4 AND end_cause = 2")
    assert sql.scalar("SELECT COUNT(*) FROM interaction_resource_fact WHERE accepted = 1") == \
        sql.scalar("SELECT COUNT(DISTINCT partyid) FROM g_party_history WHERE ccevent = 3")
    # Talk + hold of an answered segment is its release minus its answer.
    bad = sql.scalar("""SELECT COUNT(*) FROM interaction_resource_fact f
        JOIN g_party p ON p.id = f.interaction_resource_id
        JOIN g_party_history e ON e.partyid = p.partyid AND e.ccevent = 3
        WHERE f.end_ts IS NOT NULL AND f.talk_duration + f.hold_duration <> p.terminated_ts - e.added_ts""")
    assert bad == 0


def test_it_keeps_marks_in_the_control_tables():
    h.generate()
    h.etl(VALS)
    for t in ("g_ir", "g_party_history", "gc_agent"):
        assert control.extract_mark(t) == sql.scalar(f"SELECT MAX(gsys_useq) FROM {t}")
        assert control.transform_mark(f"gidb_{t}") == control.extract_mark(t)
    assert sql.scalar("SELECT COUNT(*) FROM ctl_extract_history WHERE row_count > 400") == 0  # chunked
    assert sql.scalar("SELECT COUNT(*) FROM ctl_audit_log WHERE job_name = 'Job_TransformGIM'") > 1


def test_it_extracts_nothing_twice():
    h.generate()
    h.etl(VALS)
    before = h.mart_snapshot()
    audits = sql.scalar("SELECT COUNT(*) FROM ctl_audit_log")
    h.etl(VALS)
    assert h.mart_snapshot() == before
    assert sql.scalar("SELECT COUNT(*) FROM ctl_audit_log") == audits  # no empty chunks either


def test_it_updates_the_facts_of_calls_that_end_after_their_extraction():
    h.generate(days=1)
    active = {r["id"] for r in fetch("SELECT id FROM g_ir WHERE state = 1")}
    assert active, "the generation should end with calls in progress"
    h.etl(VALS)
    assert {r["interaction_id"] for r in fetch("SELECT interaction_id FROM interaction_fact WHERE status = 1")} \
        == active
    # Later: ICON finishes those calls (deferred changes) and more traffic arrives.
    h.generate(end=h.END.replace(hour=18), resume=True)
    assert not fetch("SELECT id FROM g_ir WHERE state = 1 AND id IN (%s)" % ",".join(map(str, active)))
    h.etl(VALS)
    rows = fetch("SELECT status, end_ts FROM interaction_fact WHERE interaction_id IN (%s)"
                 % ",".join(map(str, active)))
    assert rows and all(r["status"] == 0 and r["end_ts"] is not None for r in rows)
    # Incremental loading gives exactly what loading everything at once gives.
    incremental = h.mart_snapshot(tables=h.MART_TABLES[:8])
    h.reset_mart()
    h.etl(VALS)
    assert h.mart_snapshot(tables=h.MART_TABLES[:8]) == incremental


def _undisturbed() -> dict[str, tuple[int, str]]:
    h.generate()
    h.etl(VALS)
    snap = h.mart_snapshot()
    h.reset_mart()
    return snap


@pytest.mark.parametrize("job, body, n", [(Job.EXTRACT, extract.run, 40), (Job.TRANSFORM, transform.run, 4)])
def test_it_recovers_from_a_stop_between_chunks(job, body, n):
    expected = _undisturbed()
    if job is Job.TRANSFORM:
        h.run_job(Job.EXTRACT, VALS)
    ctx = h.disturbed_ctx(job, VALS, n=n)
    with pytest.raises(StopRequested):
        body(ctx)
    partial = h.mart_snapshot()
    assert partial != expected  # it really stopped half-way
    h.etl(VALS)
    assert h.mart_snapshot() == expected


@pytest.mark.parametrize("job, body, n", [(Job.EXTRACT, extract.run, 25), (Job.TRANSFORM, transform.run, 3)])
def test_it_recovers_from_a_failure_between_chunks(job, body, n):
    expected = _undisturbed()
    if job is Job.TRANSFORM:
        h.run_job(Job.EXTRACT, VALS)
    ctx = h.disturbed_ctx(job, VALS, n=n, error=RuntimeError("injected: the database went away"))
    with pytest.raises(RuntimeError, match="injected"):
        body(ctx)
    h.etl(VALS)
    assert h.mart_snapshot() == expected


def test_it_reports_progress_and_logs():
    h.generate(days=0.5)
    ctx = h.run_job(Job.EXTRACT, VALS)
    log, progress = ctx.drain()
    assert progress is not None and progress[0] == progress[1] > 0
    assert any("extraction complete" in m for _, _, m in log)
    ctx = h.run_job(Job.TRANSFORM, VALS)
    log, progress = ctx.drain()
    assert progress[0] == progress[1] > 0
    assert any("chunks transformed" in m for _, _, m in log)


def test_it_closes_states_left_open_longer_than_max_state_duration():
    h.generate(days=1)
    h.etl(h.values(schedule__timezone=h.NY, gim_etl__max_state_duration="1800"))
    # The generation ended in the past: its still-open states are older than 30 minutes now.
    assert sql.scalar("SELECT COUNT(*) FROM sm_res_state_fact WHERE end_ts IS NULL") == 0
    assert sql.scalar("SELECT MAX(end_ts - start_ts) FROM sm_res_state_fact") <= 1800
    assert sql.scalar("SELECT COUNT(*) FROM ctl_pending_agg") > 0


def test_it_shows_how_far_behind_the_source_the_mart_is():
    from gimmanager import clock
    from infomart.status import etl_status

    h.generate(days=0.5)
    before = etl_status(clock.now())
    assert sum(t.behind for t in before.extraction) == sql.scalar("SELECT COUNT(*) FROM g_ir") + \
        sum(sql.scalar(f"SELECT COUNT(*) FROM {t}") for t in ("g_call", "g_party", "g_party_history",
                                                               "g_login_session", "g_agent_state_history",
                                                               "gc_agent", "gc_group", "gc_endpoint",
                                                               "gc_media_type"))
    assert before.extraction_lag_seconds is None
    h.etl(VALS)
    after = etl_status(clock.now())
    assert all(t.behind == 0 and t.last_run_at for t in after.extraction + after.transformation)
    assert after.extraction_lag_seconds > 0 and after.pending_aggregation_ranges > 0
    assert after.export_audit_key == 0


def test_extraction_adds_new_ids_and_merges_the_rest_on_the_id():
    """Rows past every staged id are inserted without a conflict check; the others merge on
    the id: an update replaces its staged version, an id first seen below the staged
    maximum is added, and an older version never overwrites a newer staged one."""
    from infomart.models import GIr

    t0 = 1_780_000_000

    def ir(pk: int, useq: int, state: int = 1) -> None:
        GIr.objects.update_or_create(id=pk, defaults={
            "gsys_seq": pk, "gsys_useq": useq, "gsys_ts": t0 + useq, "irid": f"IR{pk}", "state": state,
            "created_ts": t0, "terminated_ts": t0 + useq if state == 2 else None})

    def staged() -> dict[int, tuple[int, int]]:
        return {r["id"]: (r["gsys_useq"], r["state"]) for r in fetch("SELECT id, gsys_useq, state FROM gidb_g_ir")}

    ir(10, 1)
    ir(30, 2)
    h.run_job(Job.EXTRACT, VALS)
    assert staged() == {10: (1, 1), 30: (2, 1)}

    ir(30, 3, state=2)  # ended after its extraction: a new change sequence
    ir(20, 4)  # committed late, with an id below the staged maximum
    ir(40, 5)  # new
    h.run_job(Job.EXTRACT, VALS)
    assert staged() == {10: (1, 1), 20: (4, 1), 30: (3, 2), 40: (5, 1)}

    # A newer version already staged (say, marks restored from a backup older than staging):
    # extracting the source's older version again leaves it alone.
    sql.execute("UPDATE gidb_g_ir SET gsys_useq = 99, state = 2 WHERE id = 10")
    sql.execute("DELETE FROM ctl_extract_history WHERE table_name = 'g_ir'")
    h.run_job(Job.EXTRACT, VALS)
    assert staged() == {10: (99, 2), 20: (4, 1), 30: (3, 2), 40: (5, 1)}
    assert sql.scalar("SELECT COUNT(*) FROM gidb_g_ir") == 4
