"""The Genesys Info Mart application options: names, defaults, formats, help.

This registry is the one place where option names, defaults (including the
project's own choices where Genesys is silent) and formats live. The Django
section models, the INI import/export, the forms and the scheduling engine
all read it. Pure module: no Django.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from gimmanager import formats
from gimmanager.catalog import Job
from gimmanager.formats import CronSpec


INT_MAX = 2_147_483_647  # the integer columns that store whole-number options


class Kind(StrEnum):
    BOOL = "true or false"
    HHMM = "HH:mm"
    DURATION = "HH:mm duration"
    CRON = "CRON (minute hour)"
    TIMEZONE = "time zone ID"
    INT = "whole number"
    PATH = "directory path"
    ENCODING = "encoding"
    DATETIME = "yyyy-mm-dd hh:mm:ss"
    TEXT = "text"


@dataclass(frozen=True)
class OptionSpec:
    section: str
    name: str
    kind: Kind
    default: str
    help: str
    minimum: int = 1
    maximum: int | None = None
    # Set when the default is this project's decision (Genesys sources silent or in conflict).
    project_default: bool = False

    @property
    def field_name(self) -> str:
        return self.name.replace("-", "_")

    @property
    def valid_values(self) -> str:
        if self.kind is Kind.INT:
            hi = f"-{self.maximum}" if self.maximum is not None else " or more"
            return f"whole number {self.minimum}{hi}"
        return self.kind.value

    def parse(self, value: str) -> Any:
        """Parsed value, or ValueError whose text names this option and the expected form."""
        try:
            return _PARSERS[self.kind](self, value)
        except ValueError as exc:
            raise ValueError(f"[{self.section}] {self.name}: {exc}") from None


_PARSERS: dict[Kind, Callable[[OptionSpec, str], Any]] = {
    Kind.BOOL: lambda s, v: formats.parse_bool(v),
    Kind.HHMM: lambda s, v: formats.parse_hhmm(v),
    Kind.DURATION: lambda s, v: formats.parse_duration(v),
    Kind.CRON: lambda s, v: formats.parse_cron(v),
    Kind.TIMEZONE: lambda s, v: formats.parse_timezone(v),
    # Whole numbers without a documented maximum are still bounded by the database column.
    Kind.INT: lambda s, v: formats.parse_positive_int(v, minimum=s.minimum, maximum=s.maximum or INT_MAX),
    Kind.PATH: lambda s, v: formats.parse_path(v),
    Kind.ENCODING: lambda s, v: formats.parse_encoding(v),
    Kind.DATETIME: lambda s, v: formats.parse_start_date(v),
    Kind.TEXT: lambda s, v: formats.parse_text(v),
}

_P = "(Default chosen by this project; Genesys documentation is silent or inconsistent.)"

SPECS: tuple[OptionSpec, ...] = (
    # [schedule]
    OptionSpec("schedule", "run-scheduler", Kind.BOOL, "false",
               "Whether the Scheduler launches jobs at all; false pauses it without touching running jobs.",
               project_default=True),
    OptionSpec("schedule", "timezone", Kind.TIMEZONE, "GMT",
               "Time zone in which every schedule time is defined; local midnight ends the reporting day."),
    OptionSpec("schedule", "etl-start-time", Kind.HHMM, "06:00",
               "Time of day at which the first ETL cycle begins. " + _P, project_default=True),
    OptionSpec("schedule", "etl-end-time", Kind.HHMM, "02:00",
               "Time of day at which the final ETL cycle begins; may be on the next day. " + _P,
               project_default=True),
    OptionSpec("schedule", "etl-frequency", Kind.INT, "15",
               "Minutes between the start times of adjacent ETL cycles. " + _P, maximum=1440,
               project_default=True),
    OptionSpec("schedule", "run-maintain", Kind.BOOL, "true",
               "Whether the Scheduler launches Job_MaintainGIM daily. " + _P, project_default=True),
    OptionSpec("schedule", "maintain-start-time", Kind.HHMM, "03:00",
               "Time of day from which Job_MaintainGIM may start; must lie outside the ETL window. " + _P,
               project_default=True),
    OptionSpec("schedule", "run-aggregates", Kind.BOOL, "false",
               "Whether the Scheduler runs Job_AggregateGIM in its windows; must be false to start or "
               "stop it by hand.", project_default=True),
    OptionSpec("schedule", "aggregate-schedule", Kind.CRON, "0 1",
               "Start times (minute hour) of the aggregation windows.", project_default=True),
    OptionSpec("schedule", "aggregate-duration", Kind.DURATION, "05:00",
               "Length of each aggregation window (00:00-24:00); aggregation runs continuously inside it.",
               project_default=True),
    OptionSpec("schedule", "run-update-stats", Kind.BOOL, "false",
               "Whether the Scheduler launches Job_UpdateStats (PostgreSQL deployments). " + _P,
               project_default=True),
    OptionSpec("schedule", "update-stats-schedule", Kind.CRON, "0/10 *",
               "When Job_UpdateStats runs (minute hour); the default is every 10 minutes."),
    OptionSpec("schedule", "run-export", Kind.BOOL, "false",
               "Whether the Scheduler launches Job_ExportGIM on export-schedule."),
    OptionSpec("schedule", "export-schedule", Kind.CRON, "20 0/8",
               "When Job_ExportGIM runs (minute hour); the default is 00:20, 08:20 and 16:20."),
    # [gim-etl]
    OptionSpec("gim-etl", "days-to-keep-gim-facts", Kind.INT, "400",
               "Days of Info Mart facts kept; older facts are purged by Job_MaintainGIM. " + _P,
               project_default=True),
    OptionSpec("gim-etl", "days-to-keep-gidb-facts", Kind.INT, "14",
               "Days of GIDB staging data kept."),
    OptionSpec("gim-etl", "days-to-keep-cfg-facts", Kind.INT, "400",
               "Days of deleted configuration facts kept; must be at least days-to-keep-gim-facts."),
    OptionSpec("gim-etl", "days-to-keep-active-facts", Kind.INT, "30",
               "Maximum age in days of a still-active interaction before Job_TransformGIM ends it."),
    OptionSpec("gim-etl", "days-to-keep-discards-and-job-history", Kind.INT, "600",
               "Days of discards, job history and control-table rows kept."),
    OptionSpec("gim-etl", "days-to-keep-gdpr-history", Kind.INT, "15",
               "Days of GDPR history kept (0-30).", minimum=0, maximum=30),
    OptionSpec("gim-etl", "aggregation-engine-class-name", Kind.TEXT, "",
               "Class name of the aggregation package; required for Job_AggregateGIM to aggregate."),
    OptionSpec("gim-etl", "extract-data-chunk-size", Kind.INT, "5000",
               "Source rows extracted per committed chunk. " + _P, maximum=1_000_000,
               project_default=True),
    OptionSpec("gim-etl", "partitioning-ahead-range", Kind.INT, "14",
               "Days ahead of now for which Job_MaintainGIM creates fact partitions."),
    OptionSpec("gim-etl", "max-state-duration", Kind.INT, "14400",
               "Seconds after which an open agent state is closed artificially.", minimum=901),
    # [gim-export]
    OptionSpec("gim-export", "output-directory", Kind.PATH, "output",
               "Folder for exported files (relative paths are under the GIM Manager directory)."),
    OptionSpec("gim-export", "days-to-keep-output-files", Kind.INT, "14",
               "Days exported files are kept before Job_ExportGIM deletes them."),
    OptionSpec("gim-export", "use-export-views", Kind.BOOL, "false",
               "Whether Job_ExportGIM reads through the export views (a frozen schema)."),
    OptionSpec("gim-export", "chunk-size-seconds", Kind.INT, "3600",
               "Seconds of data exported per chunk. " + _P, maximum=31_622_400, project_default=True),
    OptionSpec("gim-export", "max-retries", Kind.INT, "3",
               "Retries of a failed chunk before the job fails.", minimum=0, maximum=100),
    OptionSpec("gim-export", "retry-delay-seconds", Kind.INT, "30",
               "Seconds to wait between retries.", minimum=0, maximum=3600),
    OptionSpec("gim-export", "output-files-encoding", Kind.ENCODING, "utf8",
               "Character encoding of the CSV files."),
    OptionSpec("gim-export", "start-date", Kind.DATETIME, "",
               "Earliest data exported (yyyy-mm-dd hh:mm:ss, UTC); empty = from the start of the data."),
    OptionSpec("gim-export", "thread-pool-size", Kind.INT, "10",
               "Most chunks exported at once.", maximum=64),
    # [date-time]
    OptionSpec("date-time", "date-time-max-days-ahead", Kind.INT, "366",
               "Days ahead to which Job_MaintainGIM fills the DATE_TIME calendar."),
    OptionSpec("date-time", "date-time-min-days-ahead", Kind.INT, "183",
               "When fewer filled days than this remain, Job_MaintainGIM tops the calendar up."),
    OptionSpec("date-time", "date-time-tz", Kind.TIMEZONE, "GMT",
               "Time zone of the DATE_TIME calendar. " + _P, project_default=True),
)

SECTIONS: tuple[str, ...] = ("schedule", "gim-etl", "gim-export", "date-time")
BY_KEY: dict[tuple[str, str], OptionSpec] = {(s.section, s.name): s for s in SPECS}


def specs_of(section: str) -> tuple[OptionSpec, ...]:
    return tuple(s for s in SPECS if s.section == section)


def defaults() -> dict[str, dict[str, str]]:
    return {sec: {s.name: s.default for s in specs_of(sec)} for sec in SECTIONS}


Values = Mapping[str, Mapping[str, str]]


def _get(values: Values, section: str, name: str) -> str:
    return values.get(section, {}).get(name, BY_KEY[(section, name)].default)


@dataclass(frozen=True)
class ScheduleOptions:
    """Parsed [schedule] options: the engine's view of the configuration."""

    run_scheduler: bool
    timezone: str
    etl_start_time: time
    etl_end_time: time
    etl_frequency: int
    run_maintain: bool
    maintain_start_time: time
    run_aggregates: bool
    aggregate_schedule: CronSpec
    aggregate_duration: timedelta
    run_update_stats: bool
    update_stats_schedule: CronSpec
    run_export: bool
    export_schedule: CronSpec

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_values(cls, values: Values | None = None, **overrides: str) -> ScheduleOptions:
        """Parse [schedule] from option strings; missing options take their defaults.

        `overrides` use field names (etl_start_time="06:30") for terse tests.
        Raises ValueError naming the first bad option.
        """
        section = dict((values or {}).get("schedule", {}))
        for field, raw in overrides.items():
            section[field.replace("_", "-")] = raw
        parsed = {s.field_name: s.parse(section.get(s.name, s.default)) for s in specs_of("schedule")}
        parsed["timezone"] = section.get("timezone", "GMT").strip()
        return cls(**parsed)


# --- configuration check (the seed's deployment verification) ---------------


@dataclass(frozen=True)
class Problem:
    level: str  # "error" blocks job starts; "warning" is shown only
    option: str  # "[section] name" (or several, comma separated)
    message: str
    jobs: tuple[Job, ...] = ()  # the jobs an error blocks; empty: every job

    def __str__(self) -> str:
        return f"{self.option}: {self.message}"


def time_in_span(t: time, start: time, end: time) -> bool:
    """Whether wall time t lies in [start, end], a span that may cross midnight.

    start == end is read as the whole day (a window that reopens as it closes).
    """
    if start < end:
        return start <= t <= end
    if start > end:
        return t >= start or t <= end
    return True


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def check_configuration(values: Values) -> list[Problem]:
    """Find invalid or contradictory settings. Pure: values are option strings."""
    problems: list[Problem] = []
    parsed: dict[tuple[str, str], Any] = {}
    for spec in SPECS:
        try:
            parsed[(spec.section, spec.name)] = spec.parse(_get(values, spec.section, spec.name))
        except ValueError as exc:
            problems.append(Problem("error", f"[{spec.section}] {spec.name}", str(exc).split(": ", 1)[1]))
    for section, opts in values.items():
        for name in opts:
            if (section, name) not in BY_KEY:
                problems.append(Problem("error", f"[{section}] {name}", "unknown option"))
    if problems:
        return problems

    def p(section: str, name: str) -> Any:
        return parsed[(section, name)]

    etl_start, etl_end = p("schedule", "etl-start-time"), p("schedule", "etl-end-time")
    maintain = p("schedule", "maintain-start-time")
    if p("schedule", "run-maintain"):
        if etl_start == etl_end:
            problems.append(Problem(
                "error", "[schedule] etl-start-time, etl-end-time",
                "the ETL window covers the whole day, so Job_MaintainGIM (run-maintain = true) "
                "could never run alone; leave a gap for maintenance"))
        elif time_in_span(maintain, etl_start, etl_end):
            problems.append(Problem(
                "error", "[schedule] maintain-start-time",
                f"{maintain:%H:%M} lies inside the ETL window {etl_start:%H:%M}-{etl_end:%H:%M}; "
                "it must be outside it"))
        elif p("schedule", "run-aggregates") and _aggregation_covers(
            p("schedule", "aggregate-schedule"), p("schedule", "aggregate-duration"), maintain, etl_start
        ):
            problems.append(Problem(
                "error", "[schedule] aggregate-schedule, aggregate-duration",
                f"aggregation runs without a break from maintain-start-time {maintain:%H:%M} until the "
                f"ETL window opens at {etl_start:%H:%M}, so Job_MaintainGIM would never start"))
    if p("schedule", "run-aggregates"):
        if p("schedule", "aggregate-duration") == timedelta(0):
            problems.append(Problem("warning", "[schedule] aggregate-duration",
                                    "00:00 means aggregation never runs"))
        if not p("gim-etl", "aggregation-engine-class-name"):
            problems.append(Problem("warning", "[gim-etl] aggregation-engine-class-name",
                                    "is empty; Genesys requires it for aggregation (this project's "
                                    "built-in aggregation runs regardless)"))
    if p("gim-etl", "days-to-keep-cfg-facts") < p("gim-etl", "days-to-keep-gim-facts"):
        problems.append(Problem("error", "[gim-etl] days-to-keep-cfg-facts",
                                "must be at least days-to-keep-gim-facts"))
    if p("date-time", "date-time-min-days-ahead") > p("date-time", "date-time-max-days-ahead"):
        problems.append(Problem("error", "[date-time] date-time-min-days-ahead",
                                "must not exceed date-time-max-days-ahead"))
    if p("gim-export", "start-date") is not None and (
        p("gim-etl", "days-to-keep-discards-and-job-history") < p("gim-etl", "days-to-keep-gim-facts")
    ):
        problems.append(Problem("error", "[gim-export] start-date",
                                "needs days-to-keep-discards-and-job-history >= days-to-keep-gim-facts"))
    return problems


def _aggregation_covers(cron: CronSpec, duration: timedelta, start: time, until: time) -> bool:
    """Whether the daily aggregation windows cover every minute of [start, until) (wall clock)."""
    span = (_minutes(until) - _minutes(start)) % 1440
    dur = int(duration.total_seconds() // 60)
    if dur == 0:
        return False
    covered = [False] * 1440
    for fire in cron.times_of_day():
        for k in range(dur):
            covered[(_minutes(fire) + k) % 1440] = True
    return all(covered[(_minutes(start) + k) % 1440] for k in range(span))
