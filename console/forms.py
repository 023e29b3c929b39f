"""Forms of the console. They check the shape of the input; the rules (may this
job start now? is this option value valid?) stay in the services, which the
views call and whose answers the forms only display."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms

from gimmanager import reagg
from gimmanager.catalog import JOB_DESCRIPTIONS, NOT_RUNNABLE_BY_HAND, Job, Status
from gimmanager.options import SECTIONS, Kind, OptionSpec, specs_of

JOB_CHOICES = [("", "All jobs")] + [(j.value, j.value) for j in Job]
STATUS_CHOICES = [("", "All statuses")] + [(s.value, s.value) for s in Status]


class HistoryFilterForm(forms.Form):
    job = forms.ChoiceField(choices=JOB_CHOICES, required=False)
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    q = forms.CharField(required=False, max_length=200, label="Text")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    # The page points out reversed dates; the API answers them with no runs (an empty range
    # is a well-formed question, and the schema cannot say "date_to >= date_from").
    reversed_range_is_empty = False

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end and not self.reversed_range_is_empty:
            self.add_error("date_to", "The end date is before the start date.")
        return data


class ApiHistoryFilterForm(HistoryFilterForm):
    reversed_range_is_empty = True


class JobSelect(forms.Select):
    """A job list whose jobs that cannot be run by hand are shown disabled, with the reason."""

    def create_option(self, name: str, value: Any, label: Any, selected: Any, index: int,
                      subindex: int | None = None, attrs: dict[str, Any] | None = None) -> dict[str, Any]:
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        try:
            job = Job(str(value))
        except ValueError:
            return option
        if job in NOT_RUNNABLE_BY_HAND:
            option["attrs"]["disabled"] = True
            option["label"] = f"{job.value} (runs only on its schedule)"
        option["attrs"]["title"] = NOT_RUNNABLE_BY_HAND.get(job, JOB_DESCRIPTIONS[job])
        return option


class RunJobForm(forms.Form):
    job = forms.ChoiceField(choices=[("", "Choose a job…")] + [(j.value, j.value) for j in Job], widget=JobSelect,
                            error_messages={"required": "choose the job to run.",
                                            "invalid_choice": "%(value)s is not a Genesys Info Mart job."})
    params = forms.CharField(required=False, max_length=500, label="Job Parameters (optional)")

    def clean_job(self) -> Job:
        job = Job(self.cleaned_data["job"])
        if job in NOT_RUNNABLE_BY_HAND:
            raise forms.ValidationError(NOT_RUNNABLE_BY_HAND[job])
        return job

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        job, params = data.get("job"), (data.get("params") or "").strip()
        if params and job is not None:
            if job is not Job.AGGREGATE:
                self.add_error("params", f"{job.value} takes no parameters (only Job_AggregateGIM takes "
                                         f"{reagg.FLAG}).")
            else:
                try:
                    reagg.parse(params)
                except ValueError as exc:
                    self.add_error("params", str(exc))
        return data


class ReaggregationForm(forms.Form):
    """The guided re-aggregation form: it builds `-insertPendingAgg <set>:<start>:<end>`."""

    SCOPE_CHOICES = [("ALLSETS", "All aggregate sets (ALLSETS)"), ("sets", "Chosen hierarchies at one level")]

    scope = forms.ChoiceField(choices=SCOPE_CHOICES, initial="ALLSETS", widget=forms.RadioSelect)
    hierarchies = forms.MultipleChoiceField(required=False, choices=[],
                                            widget=forms.SelectMultiple(attrs={"size": 7}))
    level = forms.ChoiceField(required=False, choices=[("", "—")] + [(lv, lv) for lv in reagg.LEVELS])
    flavor = forms.ChoiceField(required=False, choices=[("", "Online and offline")]
                               + [(f, f"{f} only") for f in reagg.FLAVORS])
    start = forms.DateField(label="Start date", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="End date (exclusive)", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, hierarchies: tuple[str, ...] = reagg.HIERARCHIES, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["hierarchies"].choices = [(h, h) for h in hierarchies]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") == "sets":
            if not data.get("level"):
                self.add_error("level", "Choose the aggregation level of the hierarchies.")
            if not data.get("hierarchies"):
                self.add_error("hierarchies", "Choose at least one hierarchy, or All aggregate sets.")
        if self.errors:
            return data
        text = self.parameter()
        try:
            data["parsed"] = reagg.parse(text)
        except ValueError as exc:
            # The strict parser has the last word (dates in order, names known).
            raise forms.ValidationError(str(exc)) from None
        data["param"] = text
        return data

    def parameter(self) -> str:
        """The parameter string the current input builds (even when it is not valid yet)."""
        d = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        start = d.get("start") or _raw_date(self.data.get("start"))
        end = d.get("end") or _raw_date(self.data.get("end"))
        if (d.get("scope") or self.data.get("scope") or "ALLSETS") == "ALLSETS":
            agg_set = "ALLSETS"
        else:
            names = d.get("hierarchies") or (self.data.getlist("hierarchies") if hasattr(self.data, "getlist") else [])
            level = d.get("level") or self.data.get("level") or "<LEVEL>"
            flavor = d.get("flavor") or self.data.get("flavor") or ""
            agg_set = f"{','.join(names)}-{level}" + (f".{flavor}" if flavor else "")
        return f"{reagg.FLAG} {agg_set}:{start or '<START>'}:{end or '<END>'}"


def _raw_date(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return str(value or "").strip()


# --- options -----------------------------------------------------------------------


def field_name(spec: OptionSpec) -> str:
    """Form field name of an option: `schedule:run-scheduler`."""
    return f"{spec.section}:{spec.name}"


class OptionsForm(forms.Form):
    """Every option of every section, as text exactly as in the Genesys INI file.

    The form does not validate values itself: the view hands them to
    config.services.update_options, whose OptionsError names each bad option,
    and shows those messages on the fields (one validation for every interface).
    """

    def __init__(self, *args: Any, values: dict[str, dict[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        for section in SECTIONS:
            for spec in specs_of(section):
                name = field_name(spec)
                initial = values.get(section, {}).get(spec.name, spec.default)
                if spec.kind is Kind.BOOL:
                    f: forms.Field = forms.ChoiceField(choices=[("true", "true"), ("false", "false")])
                else:
                    f = forms.CharField(required=False, strip=False, max_length=1024)
                    if spec.kind is Kind.TIMEZONE:
                        f.widget.attrs["list"] = "timezones"
                f.label = spec.name
                f.help_text = spec.help
                f.initial = initial
                f.widget.attrs.setdefault("aria-describedby", f"help-{section}-{spec.name}")
                self.fields[name] = f
        self.specs = {field_name(s): s for sec in SECTIONS for s in specs_of(sec)}

    def changes(self) -> dict[str, dict[str, str]]:
        """Submitted values as {section: {option: text}} (only options the form carried)."""
        out: dict[str, dict[str, str]] = {}
        for name, spec in self.specs.items():
            if name in self.data:
                out.setdefault(spec.section, {})[spec.name] = str(self.data.get(name, ""))
        return out

    def sections(self) -> list[tuple[str, list[tuple[forms.BoundField, OptionSpec]]]]:
        return [(section, [(self[field_name(s)], s) for s in specs_of(section)]) for section in SECTIONS]

    def add_option_errors(self, errors: dict[str, str]) -> None:
        """OptionsError keys are "[section] option"; unknown ones become form errors."""
        for key, message in errors.items():
            section, _, option = key.partition("] ")
            name = f"{section.lstrip('[')}:{option}"
            if name in self.fields:
                self.add_error(name, message)
            else:
                self.add_error(None, f"{key}: {message}")
