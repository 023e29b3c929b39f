"""The embedded SQLite database (the `make run` demo): every job runs and the numbers agree."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import os
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, skip_checks=True)
from gimmanager.catalog import Job
from infomart import sql
from infomart.jobs import aggregate
from tests.infomart import helpers as h
h.generate(days=0.5)
vals = h.values(schedule__timezone=h.NY, gim_export__output_directory=os.environ["OUT"],
                date_time__date_time_max_days_ahead="20", date_time__date_time_min_days_ahead="5")
h.etl(vals)
h.aggregate(vals)
for job in (Job.EXPORT, Job.UPDATE_STATS, Job.MAINTAIN):
    h.run_job(job, vals)
assert sql.scalar("SELECT COUNT(*) FROM interaction_fact") == sql.scalar("SELECT COUNT(*) FROM g_ir") > 0
count = sql.scalar
assert count("SELECT SUM(entered) FROM ag2_queue_year") == count("SELECT COUNT(*) FROM mediation_segment_fact")
assert count("SELECT SUM(offered) FROM ag2_agent_day") == count("SELECT COUNT(*) FROM interaction_resource_fact")
ctx = h.make_ctx(Job.AGGREGATE, vals)
from tests.infomart.test_aggregates import _request
req = _request(ctx, "-insertPendingAgg H_QUEUE-HOUR:2026-03-08:2026-03-10")
aggregate.run_once(ctx)
req.refresh_from_db()
assert req.state == "done", req.result
assert any(p.name.endswith("_dimensions") for p in __import__("pathlib").Path(os.environ["OUT"]).iterdir())
print("SQLITE OK")
"""


def test_it_runs_every_job_on_the_embedded_sqlite_database(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "GIM_TEST_DATABASE_NAME", "DJANGO_SETTINGS_MODULE")}
    env.update(GIM_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="gimmanager.settings",
               OUT=str(tmp_path / "out"))
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0 and "SQLITE OK" in done.stdout, done.stdout[-2000:] + done.stderr[-4000:]
