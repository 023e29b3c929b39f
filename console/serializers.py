"""JSON shapes of the API (also the OpenAPI schema's components)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from gimmanager import clock
from gimmanager.catalog import Job, Status
from gimmanager.jobs.models import JobLogEntry, JobRun, ReaggregationRequest


class RunSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    stopping = serializers.SerializerMethodField(help_text="RUNNING and asked to stop")
    duration_seconds = serializers.SerializerMethodField(help_text="so far, for a RUNNING run")

    class Meta:
        model = JobRun
        fields = ["id", "job", "status", "stopping", "by", "requested_by", "params", "note", "parent",
                  "requested_at", "started_at", "ended_at", "duration_seconds", "progress_done", "progress_total",
                  "progress_text", "worker", "heartbeat_at", "stop_requested_at", "stop_requested_by",
                  "end_reason"]
        read_only_fields = fields

    def get_stopping(self, run: JobRun) -> bool:
        return run.status == Status.RUNNING and run.stop_requested_at is not None

    def get_duration_seconds(self, run: JobRun) -> float | None:
        d = run.duration(clock.now())
        return round(d.total_seconds(), 3) if d is not None else None


class LogEntrySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = JobLogEntry
        fields = ["id", "at", "level", "message"]


class ReaggregationSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = ReaggregationRequest
        fields = ["id", "params", "agg_set", "start_date", "end_date", "requested_by", "requested_at", "state",
                  "done_at", "result"]


class RunDetailSerializer(RunSerializer):
    log = serializers.SerializerMethodField(help_text="the last lines of the log (?log=N, default 200)")
    reaggregations = ReaggregationSerializer(many=True, read_only=True)
    children = serializers.SerializerMethodField(help_text="runs of its ETL cycle that followed it")

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "log", "reaggregations", "children"]
        read_only_fields = fields

    def get_log(self, run: JobRun) -> list[dict[str, Any]]:
        n = self.context.get("log_lines", 200)
        rows = list(run.log_entries.order_by("-id")[:n])[::-1]
        return LogEntrySerializer(rows, many=True).data  # type: ignore[return-value]

    def get_children(self, run: JobRun) -> list[int]:
        return list(JobRun.objects.filter(parent=run).values_list("id", flat=True))


class RunPageSerializer(serializers.Serializer):  # type: ignore[type-arg]
    results = RunSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="URL of the next (older) page")
    previous = serializers.CharField(allow_null=True, help_text="URL of the previous (newer) page")


class RunRequestSerializer(serializers.Serializer):  # type: ignore[type-arg]
    job = serializers.ChoiceField(choices=[j.value for j in Job])
    params = serializers.CharField(required=False, allow_blank=True, max_length=500, default="",
                                   help_text="Job_AggregateGIM only: -insertPendingAgg <AGR_SET>:<START>:<END>")


class OutcomeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.ChoiceField(choices=["started", "scheduled", "handed_over", "refused", "stopping",
                                            "cancelled"])
    message = serializers.CharField()
    warnings = serializers.ListField(child=serializers.CharField())
    rule = serializers.IntegerField(allow_null=True)
    run = RunSerializer(allow_null=True)


class ProblemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    level = serializers.ChoiceField(choices=["error", "warning"])
    option = serializers.CharField()
    message = serializers.CharField()


class OptionsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    values = serializers.DictField(child=serializers.DictField(child=serializers.CharField()),
                                   help_text="{section: {option: value}} as in the Genesys INI file")
    problems = ProblemSerializer(many=True, help_text="the configuration check")


class OptionsChangeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """{section: {option: value}}: only the options to change."""

    def to_internal_value(self, data: Any) -> dict[str, dict[str, str]]:
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise serializers.ValidationError({"errors": {"body": "expected {section: {option: value}}"}})
        return {str(s): {str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                         for k, v in opts.items()} for s, opts in data.items()}


class OptionsChangedSerializer(serializers.Serializer):  # type: ignore[type-arg]
    changed = serializers.ListField(child=serializers.DictField(), help_text="the audited changes")
    values = serializers.DictField(child=serializers.DictField(child=serializers.CharField()))


class OptionsErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]
    errors = serializers.DictField(child=serializers.CharField(), help_text='{"[section] option": message}')


class ErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]
    detail = serializers.CharField(help_text="why the request was not carried out")


class TokenRequestSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """What DRF's AuthTokenSerializer accepts: no NUL character, a user name that is not all blanks
    (documentation only: that serializer still does the work)."""

    username = serializers.RegexField(r"^[^\x00]*[^\x00\s][^\x00]*$")
    password = serializers.RegexField(r"^[^\x00]+$", trim_whitespace=False, style={"input_type": "password"})
