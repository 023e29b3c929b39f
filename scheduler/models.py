"""What the live scheduler persists: its lease, its memory, and its decisions."""

from __future__ import annotations

from django.db import models


class SchedulerLease(models.Model):
    """Only the beat process holding this row's lease may act (two beats by mistake are safe).

    Taken with a guarded UPDATE: `WHERE holder = me OR expires_at < now`.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    holder = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    renewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="schedulerlease_singleton")]


class SchedulerMemory(models.Model):
    """The engine's memory between ticks (one row, JSON), so a restart continues where it stopped."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    data = models.JSONField(default=dict)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="schedulermemory_singleton")]


class SchedulerDecision(models.Model):
    """A decision that was not a plain start: skipped, waited, stopped or refused.

    Shown by the console's "Why didn't it run?" page next to the jobs concerned.
    Repeated identical decisions (a wait that lasts an hour) are stored once,
    with `last_at` and `count` updated, so the table does not grow every second.
    """

    at = models.DateTimeField()
    last_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=1)
    job = models.CharField(max_length=32)
    action = models.CharField(max_length=16)  # skip | wait | stop | refuse | start
    rule = models.PositiveSmallIntegerField()
    reason = models.TextField()
    run = models.ForeignKey("jobs.JobRun", null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-last_at", "-id"]
        indexes = [
            models.Index(fields=["-last_at", "-id"], name="decision_recent"),
            models.Index(fields=["job", "-last_at"], name="decision_job_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.job} (rule {self.rule}): {self.reason}"
