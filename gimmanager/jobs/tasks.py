"""The Celery task behind every job: a wake-up call for one JobRun row."""

from __future__ import annotations

from gimmanager.celery import app
from gimmanager.jobs import runner


@app.task(name="gim.run_job", ignore_result=True, acks_late=False)
def run_job(run_id: int) -> str | None:
    status = runner.execute(run_id)
    return status.value if status else None
