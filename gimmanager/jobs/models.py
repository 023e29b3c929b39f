"""Job runs (the Manager's job history) and their logs."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from gimmanager.catalog import Job, Status


class JobRun(models.Model):
    """One request to run a job and, once it starts, its execution.

    The row, not the broker message, is the lock: a worker may only execute a
    RUNNING row it claims with `attempt`, and status changes are guarded
    updates (`UPDATE ... WHERE status IN (...)`).
    """

    class By(models.TextChoices):
        SCHEDULER = "scheduler"
        MANUAL = "manual"

    job = models.CharField(max_length=32, choices=[(j.value, j.value) for j in Job])
    status = models.CharField(max_length=16, choices=[(s.value, s.value) for s in Status])
    by = models.CharField(max_length=16, choices=By.choices)
    requested_by = models.CharField(max_length=150, help_text="user name, or 'scheduler'")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    params = models.CharField(max_length=500, blank=True)
    note = models.TextField(blank=True, help_text="what the request was told (warnings, ignored parameters)")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                               help_text="Job_TransformGIM: the Job_ExtractICON run of its ETL cycle")

    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True)
    progress_text = models.CharField(max_length=200, blank=True)

    celery_task_id = models.CharField(max_length=64, blank=True)
    attempt = models.UUIDField(null=True, blank=True, help_text="claim of the worker executing this run")
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    stop_requested_at = models.DateTimeField(null=True, blank=True)
    stop_requested_by = models.CharField(max_length=150, blank=True)
    end_reason = models.TextField(blank=True, help_text="why it failed, was stopped or cancelled")

    class Meta:
        ordering = ["-requested_at", "-id"]
        permissions = [("run_job", "Can run, stop and cancel jobs")]
        constraints = [
            # At most one RUNNING and one SCHEDULED instance of each job, whoever races.
            models.UniqueConstraint(fields=["job"], condition=Q(status="RUNNING"), name="jobrun_one_running"),
            models.UniqueConstraint(fields=["job"], condition=Q(status="SCHEDULED"), name="jobrun_one_scheduled"),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]), name="jobrun_status_valid"),
            # Impossible sequences are unrepresentable: a run that ran has a start,
            # a finished one has an end, a waiting one has neither.
            models.CheckConstraint(
                condition=(
                    Q(status="SCHEDULED", started_at__isnull=True, ended_at__isnull=True)
                    | Q(status="RUNNING", started_at__isnull=False, ended_at__isnull=True)
                    | Q(status__in=["COMPLETE", "FAILED"], started_at__isnull=False, ended_at__isnull=False)
                    | Q(status="STOPPED", ended_at__isnull=False)
                ),
                name="jobrun_times_match_status",
            ),
        ]
        indexes = [
            models.Index(fields=["-requested_at", "-id"], name="jobrun_recent"),
            models.Index(fields=["job", "-requested_at", "-id"], name="jobrun_job_recent"),
            models.Index(fields=["status", "-requested_at", "-id"], name="jobrun_status_recent"),
            models.Index(fields=["-started_at", "-id"], name="jobrun_started"),
            # The console's Duration sort of finished runs, and its audit log of stops and manual runs.
            models.Index(F("ended_at") - F("started_at"), F("id"), name="jobrun_duration",
                         condition=Q(started_at__isnull=False, ended_at__isnull=False)),
            models.Index(fields=["-stop_requested_at", "-id"], name="jobrun_stops",
                         condition=Q(stop_requested_at__isnull=False)),
            models.Index(fields=["-requested_at", "-id"], name="jobrun_manual_recent", condition=Q(by="manual")),
        ]

    def __str__(self) -> str:
        return f"{self.job} #{self.pk} {self.status}"

    @property
    def job_enum(self) -> Job:
        return Job(self.job)

    @property
    def status_enum(self) -> Status:
        return Status(self.status)

    def duration(self, now: datetime) -> timedelta | None:
        if self.started_at is None:
            return None
        return (self.ended_at or now) - self.started_at


class JobLogEntry(models.Model):
    """A line of a run's log, readable in the console while the job runs."""

    run = models.ForeignKey(JobRun, on_delete=models.CASCADE, related_name="log_entries")
    at = models.DateTimeField()
    level = models.CharField(max_length=8, default="INFO")
    message = models.TextField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["run", "id"], name="joblog_run")]


class ReaggregationRequest(models.Model):
    """An -insertPendingAgg request handed to a running Job_AggregateGIM (manual rule 5)."""

    class State(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    run = models.ForeignKey(JobRun, on_delete=models.CASCADE, related_name="reaggregations")
    params = models.CharField(max_length=500)
    agg_set = models.CharField(max_length=300, help_text="ALLSETS or HIERARCHY,...-LEVEL[.Flavor]")
    start_date = models.DateField()
    end_date = models.DateField()
    requested_by = models.CharField(max_length=150)
    requested_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    done_at = models.DateTimeField(null=True, blank=True)
    result = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["state", "id"], name="reagg_pending")]
