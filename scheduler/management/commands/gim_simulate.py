"""Show what the scheduler would do with a configuration, on a virtual clock.

    python manage.py gim_simulate --config FILE.ini --start 2026-05-01T00:00 --end 2026-05-02T00:00
        [--duration JOB=MINUTES ...] [--fail JOB@TIME ...]
        [--manual "TIME run|stop|cancel JOB [PARAMETERS]" ...] [--json]

Times are local to the configured timezone (ISO 8601 without offset; an offset
is accepted too). No database access: the options come from the INI file
(defaults when --config is omitted) and the rules are the engine's own.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gimmanager.catalog import Job, parse_job
from gimmanager.formats import local_to_utc
from gimmanager.ini import IniError, errors_of, parse_ini
from gimmanager.options import ScheduleOptions
from scheduler.simulator import ManualAction, render_json, render_text, simulate

_TIME_FORM = "an ISO local time such as 2026-05-01T06:30 (an offset such as +02:00 is accepted)"


class Command(BaseCommand):
    help = "Simulate the scheduler over a period and print the timeline of job events."
    requires_system_checks: list[str] = []  # no database, no models: nothing to check

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--config", metavar="FILE.ini",
                            help="Genesys-style INI file of options; omitted: every option at its default")
        parser.add_argument("--start", required=True, metavar="TIME", help=f"start of the simulation, {_TIME_FORM}")
        parser.add_argument("--end", required=True, metavar="TIME", help="end of the simulation (excluded)")
        parser.add_argument("--duration", action="append", default=[], metavar="JOB=MINUTES",
                            help="how long each run of JOB lasts (repeatable); defaults: extract 5, transform 5, "
                                 "maintain 30, update stats 1, export 10; aggregation runs until stopped")
        parser.add_argument("--fail", action="append", default=[], metavar="JOB@TIME",
                            help="the run of JOB going at TIME (or the next one starting after it) fails")
        parser.add_argument("--manual", action="append", default=[], metavar='"TIME ACTION JOB [PARAMETERS]"',
                            help="a Manager action: ACTION is run, stop or cancel (repeatable)")
        parser.add_argument("--json", action="store_true", help="print one JSON array of events")

    def handle(self, *args: Any, **options: Any) -> None:
        values = self._values(options["config"])
        try:
            opts = ScheduleOptions.from_values(values)
        except ValueError as exc:
            raise CommandError(f"--config: {exc}") from None
        tz = opts.tz
        start = _local_time(options["start"], tz, "--start")
        end = _local_time(options["end"], tz, "--end")
        if end <= start:
            raise CommandError("--end must be later than --start")
        durations = dict(_duration(s) for s in options["duration"])
        fails = [_fail(s, tz) for s in options["fail"]]
        manual = [_manual(s, tz) for s in options["manual"]]
        errors = tuple(errors_of(values))

        events = simulate(opts, start, end, durations, fails, manual, config_errors=errors)

        if options["json"]:
            self.stdout.write(json.dumps(render_json(events), indent=2, ensure_ascii=False))
            return
        if not opts.run_scheduler:
            self.stdout.write("# run-scheduler is false: the scheduler launches no job (only manual actions run)")
        for error in errors:
            self.stdout.write(f"# configuration error (every launch is refused): {error}")
        self.stdout.write(render_text(events) if events else "(no events)")

    def _values(self, path: str | None) -> dict[str, dict[str, str]]:
        if path is None:
            return parse_ini("")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"--config: cannot read {path}: {exc.strerror or exc}") from None
        try:
            return parse_ini(text)
        except IniError as exc:
            raise CommandError(f"--config {path}: " + "; ".join(exc.problems)) from None


def _local_time(text: str, tz: ZoneInfo, arg: str) -> datetime:
    """An instant from a local ISO time of the configured zone (rule 13 for gaps and repeats)."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(f"{arg}: {text!r} is not {_TIME_FORM}") from None
    if parsed.tzinfo is not None:
        return parsed.astimezone(tz)
    # A wall time in the spring-forward gap means the first instant after it; a
    # repeated one means its first occurrence (the same rule the scheduler uses).
    return local_to_utc(parsed.date(), parsed.time(), tz).astimezone(tz)


def _job(text: str, arg: str) -> Job:
    try:
        return parse_job(text)
    except ValueError as exc:
        raise CommandError(f"{arg}: {exc}") from None


def _duration(text: str) -> tuple[Job, float]:
    name, sep, minutes = text.partition("=")
    if not sep:
        raise CommandError(f"--duration: {text!r} is not JOB=MINUTES (for example Job_ExtractICON=12)")
    job = _job(name, "--duration")
    try:
        value = float(minutes)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise CommandError(f"--duration: {minutes!r} is not a number of minutes (0 or more) in {text!r}")
    return job, value


def _fail(text: str, tz: ZoneInfo) -> tuple[Job, datetime]:
    name, sep, when = text.partition("@")
    if not sep:
        raise CommandError(f"--fail: {text!r} is not JOB@TIME (for example Job_ExtractICON@2026-05-01T06:32)")
    return _job(name, "--fail"), _local_time(when, tz, "--fail")


def _manual(text: str, tz: ZoneInfo) -> ManualAction:
    parts = text.split(maxsplit=3)
    if len(parts) < 3:
        raise CommandError(f'--manual: {text!r} is not "TIME run|stop|cancel JOB [PARAMETERS]"')
    when, action, name = parts[:3]
    if action not in ("run", "stop", "cancel"):
        raise CommandError(f"--manual: action {action!r} in {text!r} must be run, stop or cancel")
    params = parts[3] if len(parts) > 3 else ""
    return ManualAction(_local_time(when, tz, "--manual"), action, _job(name, "--manual"), params)
