"""`manage.py gim_simulate`: options from an INI file, a timeline or JSON out,
clear errors for bad arguments. No database (nothing here is django_db)."""

from __future__ import annotations

import json
import os
from io import StringIO
from pathlib import Path

import pytest

from gimmanager.catalog import Job


def _django() -> None:
    # pytest-django (pytest.ini) configures the project settings; without it
    # (-p no:django) the command only needs the scheduler app.
    from django.conf import settings

    if settings.configured:
        return
    import django

    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        settings.configure(INSTALLED_APPS=["scheduler"], USE_TZ=True)
    django.setup()


_django()

from django.core.management import call_command  # noqa: E402
from django.core.management.base import CommandError  # noqa: E402

SAMPLE = """\
[schedule]
run-scheduler = true
timezone = Europe/Berlin
etl-start-time = 06:30
etl-end-time = 00:30
etl-frequency = 30
maintain-start-time = 03:00
run-aggregates = true
aggregate-schedule = 0 4
aggregate-duration = 23:00
"""


def _ini(tmp_path: Path, text: str = SAMPLE) -> str:
    path = tmp_path / "gim.ini"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _run(*args: str) -> str:
    out = StringIO()
    call_command("gim_simulate", *args, stdout=out)
    return out.getvalue()


def test_it_prints_a_timeline_in_the_configured_zone(tmp_path):
    out = _run("--config", _ini(tmp_path), "--start", "2026-05-01T02:30", "--end", "2026-05-01T06:36")
    assert [line.split()[:5] for line in out.splitlines()] == [
        ["2026-05-01T02:30:00+02:00", "Job_AggregateGIM", "started", "by", "scheduler"],
        ["2026-05-01T03:00:00+02:00", "Job_AggregateGIM", "stopped", "by", "scheduler"],
        ["2026-05-01T03:00:00+02:00", "Job_MaintainGIM", "started", "by", "scheduler"],
        ["2026-05-01T03:30:00+02:00", "Job_MaintainGIM", "completed", "by", "scheduler"],
        ["2026-05-01T04:00:00+02:00", "Job_AggregateGIM", "started", "by", "scheduler"],
        ["2026-05-01T06:30:00+02:00", "Job_ExtractICON", "started", "by", "scheduler"],
        ["2026-05-01T06:35:00+02:00", "Job_ExtractICON", "completed", "by", "scheduler"],
        ["2026-05-01T06:35:00+02:00", "Job_TransformGIM", "started", "by", "scheduler"],
    ]
    assert "stopped    by scheduler  the aggregation window 04:00-03:00 ended" in out.splitlines()[1]


def test_it_prints_json_with_durations_failures_and_manual_actions(tmp_path):
    out = _run("--config", _ini(tmp_path, SAMPLE + "run-maintain = false\n"),
               "--start", "2026-05-01T06:00", "--end", "2026-05-01T07:05",
               "--duration", "Job_ExtractICON=3", "--duration", "job_transformgim=4.5",
               "--fail", "Job_ExtractICON@2026-05-01T06:31", "--manual", "2026-05-01T06:50 run Job_UpdateStats",
               "--manual", "2026-05-01T06:40+02:00 run Job_AggregateGIM -insertPendingAgg ALLSETS:2026-04-01:2026-04-02",
               "--json")
    events = json.loads(out)
    assert [(e["time"], e["job"], e["event"], e["by"]) for e in events] == [
        ("2026-05-01T06:00:00+02:00", "Job_AggregateGIM", "started", "scheduler"),
        ("2026-05-01T06:30:00+02:00", "Job_ExtractICON", "started", "scheduler"),
        ("2026-05-01T06:31:00+02:00", "Job_ExtractICON", "failed", "scheduler"),
        ("2026-05-01T06:31:00+02:00", "Job_TransformGIM", "skipped", "scheduler"),
        ("2026-05-01T06:40:00+02:00", "Job_AggregateGIM", "skipped", "manual"),
        ("2026-05-01T06:50:00+02:00", "Job_UpdateStats", "refused", "manual"),
        ("2026-05-01T07:00:00+02:00", "Job_ExtractICON", "started", "scheduler"),
        ("2026-05-01T07:03:00+02:00", "Job_ExtractICON", "completed", "scheduler"),
        ("2026-05-01T07:03:00+02:00", "Job_TransformGIM", "started", "scheduler"),
    ]
    assert set(events[0]) == {"time", "job", "event", "by", "reason"}
    assert events[1]["reason"] == "first ETL cycle of the window 06:30-00:30"
    assert events[2]["reason"] == "simulated failure (Job_ExtractICON@2026-05-01T06:31:00+02:00)"


def test_without_config_every_option_has_its_default(tmp_path):
    out = _run("--start", "2026-05-01T00:00", "--end", "2026-05-02T00:00")
    head, *events = out.splitlines()
    assert head == "# run-scheduler is false: the scheduler launches no job (only manual actions run)"
    # Defaults: GMT, ETL window 06:00-02:00, maintenance from 03:00; nothing starts, and
    # the day's maintenance is recorded as skipped, with the reason.
    assert [line.split()[:5] for line in events] == [
        ["2026-05-01T06:00:00+00:00", "Job_MaintainGIM", "skipped", "by", "scheduler"]]
    assert events[0].endswith("when the next ETL window opened (run-scheduler was false)")
    assert _run("--start", "2026-05-01T07:00", "--end", "2026-05-02T00:00").splitlines()[1:] == ["(no events)"]


def test_configuration_errors_refuse_launches(tmp_path):
    text = SAMPLE.replace("maintain-start-time = 03:00", "maintain-start-time = 07:00")
    out = _run("--config", _ini(tmp_path, text), "--start", "2026-05-01T06:00", "--end", "2026-05-01T07:00",
               "--json")
    events = json.loads(out)
    assert [(e["time"], e["job"], e["event"]) for e in events] == [
        ("2026-05-01T06:00:00+02:00", "Job_MaintainGIM", "refused"),   # the 04-30 07:00 one, still pending
        ("2026-05-01T06:00:00+02:00", "Job_AggregateGIM", "refused"),
        ("2026-05-01T06:30:00+02:00", "Job_MaintainGIM", "skipped"),
        ("2026-05-01T06:30:00+02:00", "Job_ExtractICON", "refused"),
        ("2026-05-01T06:30:00+02:00", "Job_AggregateGIM", "refused"),
    ]
    assert all("maintain-start-time: 07:00 lies inside the ETL window" in e["reason"]
               for e in events if e["event"] == "refused")
    assert events[2]["reason"] == ("maintenance of 2026-04-30 skipped: it could not start between 07:00 and "
                                   "2026-05-01 06:30, when the next ETL window opened (the configuration check "
                                   "found errors)")


@pytest.mark.parametrize(("args", "message"), [
    (["--start", "May 1", "--end", "2026-05-02T00:00"], "--start: 'May 1' is not an ISO local time"),
    (["--start", "2026-05-02T00:00", "--end", "2026-05-01T00:00"], "--end must be later than --start"),
    (["--duration", "Job_ExtractICON"], "--duration: 'Job_ExtractICON' is not JOB=MINUTES"),
    (["--duration", "Job_ExtractICON=-2"], "--duration: '-2' is not a number of minutes"),
    (["--duration", "Job_Nope=2"], "--duration: unknown job 'Job_Nope'"),
    (["--fail", "Job_ExtractICON"], "--fail: 'Job_ExtractICON' is not JOB@TIME"),
    (["--fail", "Job_ExtractICON@soon"], "--fail: 'soon' is not an ISO local time"),
    (["--manual", "2026-05-01T06:00 launch Job_ExtractICON"], "--manual: action 'launch'"),
    (["--manual", "2026-05-01T06:00 run"], '--manual: \'2026-05-01T06:00 run\' is not "TIME run|stop|cancel'),
])
def test_bad_arguments_name_the_argument_and_the_expected_form(tmp_path, args, message):
    base = {"--start": "2026-05-01T00:00", "--end": "2026-05-01T01:00"}
    for i in range(0, len(args), 2):
        base.pop(args[i], None)
    argv = [x for kv in base.items() for x in kv] + args
    with pytest.raises(CommandError) as exc:
        _run("--config", _ini(tmp_path), *argv)
    assert message in str(exc.value)


def test_a_bad_ini_option_is_named(tmp_path):
    text = SAMPLE.replace("etl-frequency = 30", "etl-frequency = often")
    with pytest.raises(CommandError, match=r"\[schedule\] etl-frequency: expected a whole number"):
        _run("--config", _ini(tmp_path, text), "--start", "2026-05-01T00:00", "--end", "2026-05-01T01:00")


def test_a_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="--config: cannot read"):
        _run("--config", str(tmp_path / "missing.ini"), "--start", "2026-05-01T00:00", "--end", "2026-05-01T01:00")


def test_a_local_time_in_the_spring_forward_gap_means_the_first_instant_after_it(tmp_path):
    ini = _ini(tmp_path, SAMPLE.replace("run-aggregates = true", "run-aggregates = false"))
    out = _run("--config", ini, "--start", "2026-03-29T02:30", "--end", "2026-03-29T03:01", "--json")
    assert [(e["time"], e["job"], e["event"]) for e in json.loads(out)] == [
        ("2026-03-29T03:00:00+02:00", Job.MAINTAIN.value, "started")]
