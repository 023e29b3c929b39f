"""Which function does each job's work.

Bodies live with the data they work on (infomart/jobs/). GIM_JOB_BODIES in
the environment (a JSON object of job name -> dotted path) replaces some,
which the runner tests use to drive a body whose timing they control.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from django.utils.module_loading import import_string

from gimmanager.catalog import Job
from gimmanager.jobs.context import JobContext

DEFAULT_BODIES: dict[Job, str] = {
    Job.EXTRACT: "infomart.jobs.extract.run",
    Job.TRANSFORM: "infomart.jobs.transform.run",
    Job.AGGREGATE: "infomart.jobs.aggregate.run",
    Job.MAINTAIN: "infomart.jobs.maintain.run",
    Job.UPDATE_STATS: "infomart.jobs.update_stats.run",
    Job.EXPORT: "infomart.jobs.export.run",
}


def body_for(job: Job) -> Callable[[JobContext], None]:
    overrides = json.loads(os.environ.get("GIM_JOB_BODIES", "{}"))
    return import_string(overrides.get(job.value, DEFAULT_BODIES[job]))  # type: ignore[no-any-return]
