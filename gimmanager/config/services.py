"""Reading and changing the options: the only code that writes the section rows."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from gimmanager import clock
from gimmanager.catalog import Job
from gimmanager.config.models import SECTION_MODELS, OptionChange
from gimmanager.ini import IniError, parse_ini, render_ini
from gimmanager.options import BY_KEY, Kind, Problem, ScheduleOptions, Values, check_configuration, defaults


@dataclass(frozen=True)
class Changer:
    """Who changes options, for the audit."""

    label: str
    via: str
    user: Any = None

    @classmethod
    def of_user(cls, user: Any, via: str) -> Changer:
        return cls(label=user.get_username(), via=via, user=user)


def current_values() -> dict[str, dict[str, str]]:
    """Every option's current value as text, {section: {option: value}}."""
    return {section: model.load().values() for section, model in SECTION_MODELS.items()}


def schedule_options(values: Values | None = None) -> ScheduleOptions:
    return ScheduleOptions.from_values(values if values is not None else current_values())


def output_directory(values: Values) -> Path:
    path = Path(values["gim-export"]["output-directory"])
    return path if path.is_absolute() else Path(settings.GIM_BASE_DIR) / path


def configuration_problems(values: Values | None = None) -> list[Problem]:
    """The deployment verification: pure checks plus the few that need the file system."""
    values = values if values is not None else current_values()
    problems = check_configuration(values)
    if not any(p.level == "error" for p in problems) and values["schedule"]["run-export"] == "true":
        out = output_directory(values)
        probe = out if out.exists() else out.parent
        if not probe.exists() or not os.access(probe, os.W_OK):
            # Only the export writes there: the ETL, aggregation and maintenance jobs go on.
            problems.append(Problem("error", "[gim-export] output-directory",
                                    f"{out} cannot be created or written, so {Job.EXPORT.value} cannot run",
                                    jobs=(Job.EXPORT,)))
    return problems


def blocking_errors(problems: Iterable[Problem], job: Job | None = None) -> list[str]:
    """The errors that refuse every start; with `job`, also those that refuse that job's."""
    return [str(p) for p in problems if p.level == "error" and (not p.jobs or job in p.jobs)]


def job_errors(problems: Iterable[Problem]) -> dict[Job, tuple[str, ...]]:
    """The errors that refuse one job's starts only, by job (for the scheduling engine)."""
    out: dict[Job, tuple[str, ...]] = {}
    for p in problems:
        for job in p.jobs if p.level == "error" else ():
            out[job] = (*out.get(job, ()), str(p))
    return out


def configuration_errors(values: Values | None = None, job: Job | None = None) -> list[str]:
    """The errors that refuse a start of `job` (without a job: of every job)."""
    return blocking_errors(configuration_problems(values), job)


class OptionsError(ValueError):
    """Refused option values: {"[section] option": message}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def update_options(changes: Values, *, by: Changer, now: datetime | None = None) -> list[OptionChange]:
    """Validate every value first, then save them all in one transaction and audit each change.

    Raises OptionsError (nothing saved) when any value is bad or unknown.
    """
    errors: dict[str, str] = {}
    for section, opts in changes.items():
        for name, raw in opts.items():
            spec = BY_KEY.get((section, name))
            if spec is None:
                errors[f"[{section}] {name}"] = "unknown option"
                continue
            try:
                spec.parse(str(raw))
            except ValueError as exc:
                errors[f"[{section}] {name}"] = str(exc).split(": ", 1)[1]
    if errors:
        raise OptionsError(errors)
    now = now or clock.now()
    audit: list[OptionChange] = []
    with transaction.atomic():
        for section, opts in changes.items():
            model = SECTION_MODELS[section]
            model.objects.get_or_create(pk=1)
            row = model.objects.select_for_update().get(pk=1)
            old = row.values()
            for name, raw in opts.items():
                spec = BY_KEY[(section, name)]
                new_text = str(raw).strip()
                if spec.kind is Kind.BOOL:
                    new_text = new_text.lower()
                if old[name] == new_text:
                    continue
                value: Any = new_text
                if spec.kind is Kind.BOOL:
                    value = new_text == "true"
                elif spec.kind is Kind.INT:
                    value = int(new_text)
                setattr(row, spec.field_name, value)
                audit.append(OptionChange(
                    changed_at=now, user=by.user, changed_by=by.label, via=by.via,
                    section=section, option=name, old_value=old[name], new_value=new_text))
            row.full_clean()
            row.save()
        OptionChange.objects.bulk_create(audit)
    return audit


def import_ini(text: str, *, by: Changer, merge: bool = False) -> list[OptionChange]:
    """Apply an INI file: all values validated first; nothing changes if any is bad.

    Without merge, options the file does not set go back to their Genesys default.
    """
    try:
        values = parse_ini(text, fill_defaults=not merge)
    except IniError as exc:
        raise OptionsError({p.split(": ", 1)[0]: p.split(": ", 1)[-1] for p in exc.problems}) from None
    return update_options(values, by=by)


def export_ini() -> str:
    return render_ini(current_values())


def reset_to_defaults(*, by: Changer) -> list[OptionChange]:
    return update_options(defaults(), by=by)
