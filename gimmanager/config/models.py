"""The option sections of the Genesys Info Mart application, one singleton row each.

Fields are generated from the registry in gimmanager.options (names, defaults,
formats, help), so every entry point (admin, console form, API, INI import)
validates with the same parsers.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.deconstruct import deconstructible

from gimmanager.options import BY_KEY, Kind, specs_of


@deconstructible
class OptionValidator:
    """Validates a field with its option's parser (serializable for migrations)."""

    def __init__(self, section: str, name: str):
        self.section, self.name = section, name

    def __call__(self, value: Any) -> None:
        try:
            BY_KEY[(self.section, self.name)].parse(str(value))
        except ValueError as exc:
            raise ValidationError(str(exc), code="invalid") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OptionValidator) and (other.section, other.name) == (self.section, self.name)


def option_field(section: str, name: str) -> models.Field[Any, Any]:
    spec = BY_KEY[(section, name)]
    common: dict[str, Any] = {"verbose_name": spec.name, "help_text": spec.help}
    if spec.kind is Kind.BOOL:
        return models.BooleanField(default=spec.default == "true", **common)
    if spec.kind is Kind.INT:
        validators: list[Any] = [MinValueValidator(spec.minimum)]
        if spec.maximum is not None:
            validators.append(MaxValueValidator(spec.maximum))
        return models.PositiveIntegerField(default=int(spec.default), validators=validators, **common)
    return models.CharField(
        max_length=1024 if spec.kind is Kind.PATH else 255,
        default=spec.default,
        blank=spec.default == "",
        validators=[OptionValidator(section, name)],
        **common,
    )


class Section(models.Model):
    """A singleton row holding one [section] of options."""

    SECTION: ClassVar[str]
    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)

    class Meta:
        abstract = True

    @classmethod
    def load(cls) -> Section:
        obj, _ = cls.objects.get_or_create(pk=1)  # type: ignore[attr-defined]
        return obj  # type: ignore[no-any-return]

    def values(self) -> dict[str, str]:
        """Option name -> value as written in an INI file."""
        out = {}
        for spec in specs_of(self.SECTION):
            v = getattr(self, spec.field_name)
            out[spec.name] = ("true" if v else "false") if isinstance(v, bool) else str(v)
        return out

    def __str__(self) -> str:
        return f"[{self.SECTION}]"


def _singleton(name: str) -> list[models.CheckConstraint]:
    return [models.CheckConstraint(condition=models.Q(id=1), name=f"{name}_singleton")]


class ScheduleSection(Section):
    SECTION = "schedule"
    run_scheduler = option_field("schedule", "run-scheduler")
    timezone = option_field("schedule", "timezone")
    etl_start_time = option_field("schedule", "etl-start-time")
    etl_end_time = option_field("schedule", "etl-end-time")
    etl_frequency = option_field("schedule", "etl-frequency")
    run_maintain = option_field("schedule", "run-maintain")
    maintain_start_time = option_field("schedule", "maintain-start-time")
    run_aggregates = option_field("schedule", "run-aggregates")
    aggregate_schedule = option_field("schedule", "aggregate-schedule")
    aggregate_duration = option_field("schedule", "aggregate-duration")
    run_update_stats = option_field("schedule", "run-update-stats")
    update_stats_schedule = option_field("schedule", "update-stats-schedule")
    run_export = option_field("schedule", "run-export")
    export_schedule = option_field("schedule", "export-schedule")

    class Meta:
        verbose_name = verbose_name_plural = "[schedule]"
        constraints = _singleton("schedule")


class GimEtlSection(Section):
    SECTION = "gim-etl"
    days_to_keep_gim_facts = option_field("gim-etl", "days-to-keep-gim-facts")
    days_to_keep_gidb_facts = option_field("gim-etl", "days-to-keep-gidb-facts")
    days_to_keep_cfg_facts = option_field("gim-etl", "days-to-keep-cfg-facts")
    days_to_keep_active_facts = option_field("gim-etl", "days-to-keep-active-facts")
    days_to_keep_discards_and_job_history = option_field("gim-etl", "days-to-keep-discards-and-job-history")
    days_to_keep_gdpr_history = option_field("gim-etl", "days-to-keep-gdpr-history")
    aggregation_engine_class_name = option_field("gim-etl", "aggregation-engine-class-name")
    extract_data_chunk_size = option_field("gim-etl", "extract-data-chunk-size")
    partitioning_ahead_range = option_field("gim-etl", "partitioning-ahead-range")
    max_state_duration = option_field("gim-etl", "max-state-duration")

    class Meta:
        verbose_name = verbose_name_plural = "[gim-etl]"
        constraints = _singleton("gim_etl")


class GimExportSection(Section):
    SECTION = "gim-export"
    output_directory = option_field("gim-export", "output-directory")
    days_to_keep_output_files = option_field("gim-export", "days-to-keep-output-files")
    use_export_views = option_field("gim-export", "use-export-views")
    chunk_size_seconds = option_field("gim-export", "chunk-size-seconds")
    max_retries = option_field("gim-export", "max-retries")
    retry_delay_seconds = option_field("gim-export", "retry-delay-seconds")
    output_files_encoding = option_field("gim-export", "output-files-encoding")
    start_date = option_field("gim-export", "start-date")
    thread_pool_size = option_field("gim-export", "thread-pool-size")

    class Meta:
        verbose_name = verbose_name_plural = "[gim-export]"
        constraints = _singleton("gim_export")


class DateTimeSection(Section):
    SECTION = "date-time"
    date_time_max_days_ahead = option_field("date-time", "date-time-max-days-ahead")
    date_time_min_days_ahead = option_field("date-time", "date-time-min-days-ahead")
    date_time_tz = option_field("date-time", "date-time-tz")

    class Meta:
        verbose_name = verbose_name_plural = "[date-time]"
        constraints = _singleton("date_time")


SECTION_MODELS: dict[str, type[Section]] = {
    m.SECTION: m for m in (ScheduleSection, GimEtlSection, GimExportSection, DateTimeSection)
}


class OptionChange(models.Model):
    """Audit of every option change: who, when, which option, old and new value."""

    changed_at = models.DateTimeField(db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    changed_by = models.CharField(max_length=150, help_text="user name, or the command that made the change")
    via = models.CharField(max_length=32, help_text="console, admin, api, import")
    section = models.CharField(max_length=32)
    option = models.CharField(max_length=64)
    old_value = models.CharField(max_length=1024, blank=True)
    new_value = models.CharField(max_length=1024, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        permissions = [("change_options", "Can change the Genesys Info Mart options")]
        indexes = [models.Index(fields=["-changed_at", "-id"], name="optionchange_recent")]

    def __str__(self) -> str:
        return f"[{self.section}] {self.option}: {self.old_value!r} -> {self.new_value!r}"
