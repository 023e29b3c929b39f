from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from gimmanager.jobs.models import JobLogEntry, JobRun, ReaggregationRequest


class JobLogInline(admin.TabularInline):  # type: ignore[type-arg]
    model = JobLogEntry
    extra = 0
    can_delete = False
    readonly_fields = ("at", "level", "message")


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: runs change only through the job-control service (console, API, gim_job)."""

    list_display = ("id", "job", "status", "requested_by", "requested_at", "started_at", "ended_at", "worker")
    list_filter = ("job", "status", "by")
    search_fields = ("params", "requested_by", "end_reason")
    date_hierarchy = "requested_at"
    show_full_result_count = False  # no COUNT(*) over a million rows per page
    inlines = [JobLogInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReaggregationRequest)
class ReaggregationRequestAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "run", "params", "state", "requested_by", "requested_at", "done_at")
    list_filter = ("state",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
