"""Job_MaintainGIM, minimal: purges job history older than
days-to-keep-discards-and-job-history, in committed batches."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction

from gimmanager.catalog import TERMINAL_STATUSES
from gimmanager.jobs.context import JobContext
from gimmanager.jobs.models import JobRun


def run(ctx: JobContext) -> None:
    days = ctx.option("gim-etl", "days-to-keep-discards-and-job-history")
    cutoff = ctx.started_at - timedelta(days=days)
    old = JobRun.objects.filter(status__in=TERMINAL_STATUSES, requested_at__lt=cutoff)
    total, done = old.count(), 0
    while True:
        ctx.check_stop()
        with transaction.atomic():
            ids = list(old.values_list("pk", flat=True)[:1000])
            if not ids:
                break
            JobRun.objects.filter(pk__in=ids).delete()
        done += len(ids)
        ctx.progress(done, total, "job history rows purged")
    ctx.log(f"purged {done} job-history rows older than {days} days")
