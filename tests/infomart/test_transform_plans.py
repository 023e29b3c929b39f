"""Job_TransformGIM reads a chunk's calls out of staging by index, never by a scan of staging.

A scan per chunk is what the planner may prefer for one statement on its own, and it makes
the transformation grow with the square of the backlog (each chunk reads all of staging);
the LATERAL form of the lookups (transform._by) is what prevents it.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from gimmanager.catalog import Job
from infomart import sql
from infomart.jobs import transform
from tests.infomart import helpers as h

pytestmark = pytest.mark.django_db

# The lookups of the touched calls' rows (the first statement, which collects the calls
# from the chunk's windows, scans those windows by design).
WORK = ("im_call", "im_party", "im_party_event", "im_acw")


def plans(d: sql.Dialect) -> dict[str, str]:
    out = {}
    statements = transform.lookups(d)
    for name in WORK:
        with connection.cursor() as cur:
            cur.execute("EXPLAIN " + statements[name])
            out[name] = "\n".join(r[0] for r in cur.fetchall())
    return out


def scans_staging(plan: str) -> bool:
    """Whether the plan reads a staging table other than by index lookups on the chunk's calls."""
    lines = plan.splitlines()
    for i, line in enumerate(lines):
        if " on gidb_" in line and not (line.strip().lstrip("-> ").startswith(("Index Scan", "Index Only Scan"))
                                        and i + 1 < len(lines) and "Index Cond" in lines[i + 1]):
            return True  # a sequential scan, or an index scan over the whole index
    return "Hash Join" in plan or "Merge Join" in plan


def test_the_touched_calls_rows_are_read_by_index():
    if connection.vendor != "postgresql":
        pytest.skip("query plans are PostgreSQL's")
    h.generate(days=2)
    h.run_job(Job.EXTRACT, h.values(gim_etl__extract_data_chunk_size="5000"))
    sql.execute("ANALYZE")
    with transaction.atomic():
        transform._prepare_work_tables(sql.dialect())
        # A chunk's worth of touched calls: a few percent of those staged.
        sql.execute("INSERT INTO im_aff_call (callid) SELECT callid FROM gidb_g_call WHERE id % 40 = 0")
        sql.execute("ANALYZE im_aff_call")
        # Price random reads as the planner does for a staging table far larger than memory
        # and the cache: then, statement by statement, reading all of staging looks cheaper.
        sql.execute("SET LOCAL random_page_cost = 40")
        as_joins = plans(sql.Dialect("sqlite"))  # the same statements written as plain joins
        planned = plans(sql.Dialect("postgresql"))
    # What the planner picks for plain joins: some read all of staging.
    assert any(scans_staging(p) for p in as_joins.values()), as_joins
    for name, plan in planned.items():
        assert not scans_staging(plan), f"{name}:\n{plan}"
        assert "Index" in plan, f"{name}:\n{plan}"
