"""Job_UpdateStats: ANALYZE of what changed (PostgreSQL)."""

from __future__ import annotations

import pytest

from gimmanager.catalog import Job
from infomart import sql
from tests.conftest import wait_for
from tests.infomart import helpers as h

pytestmark = pytest.mark.django_db(transaction=True)  # statistics counters count committed changes


def last_analyzed(table: str):
    return sql.scalar("SELECT GREATEST(last_analyze, last_autoanalyze) FROM pg_stat_user_tables WHERE relname = %s",
                      [table])


def test_it_analyzes_the_tables_that_changed_and_only_those():
    h.generate(days=0.5)
    vals = h.values(schedule__timezone=h.NY)
    h.run_job(Job.EXTRACT, vals)
    wait_for(lambda: sql.scalar("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'gidb_g_ir'"),
             10, "the statistics counters to see the extraction")
    sql.execute("ANALYZE resource_state")
    untouched = last_analyzed("resource_state")
    ctx = h.run_job(Job.UPDATE_STATS, vals)
    assert sql.scalar("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'gidb_g_ir'") == 0
    assert last_analyzed("resource_state") == untouched
    log = " ".join(m for _, _, m in ctx.drain()[0])
    assert "gidb_g_ir" in log
    h.run_job(Job.TRANSFORM, vals)
    wait_for(lambda: sql.scalar("SELECT SUM(n_mod_since_analyze) FROM pg_stat_user_tables "
                                "WHERE relname LIKE 'interaction_fact_p%%'"), 10, "fact changes to show")
    ctx = h.run_job(Job.UPDATE_STATS, vals)
    log = [m for _, _, m in ctx.drain()[0] if m.startswith("ANALYZE of partitioned facts")]
    assert log and "interaction_fact" in log[0]
