"""Option validation (every option, good and bad values), INI round trip,
all-or-nothing import, audit, and the configuration check."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from gimmanager.config.models import SECTION_MODELS, OptionChange, ScheduleSection
from gimmanager.config.services import (
    Changer,
    OptionsError,
    configuration_errors,
    current_values,
    export_ini,
    import_ini,
    update_options,
)
from gimmanager.ini import parse_ini, render_ini
from gimmanager.options import SPECS, Kind, ScheduleOptions, check_configuration, defaults

ADMIN = Changer(label="tester", via="test")

GOOD: dict[Kind, list[str]] = {
    Kind.BOOL: ["true", "false", "TRUE"],
    Kind.HHMM: ["00:00", "06:30", "23:59"],
    Kind.DURATION: ["00:00", "5:00", "23:00", "24:00"],
    Kind.CRON: ["0/10 *", "20 0/8", "0 0,3/2", "30 2", "* *", "0-30/15 1-3"],
    Kind.TIMEZONE: ["GMT", "UTC", "America/New_York", "Europe/Berlin"],
    Kind.PATH: ["output", "/var/lib/gim/export"],
    Kind.ENCODING: ["utf8", "latin1", "UTF-16"],
    Kind.DATETIME: ["", "2026-05-01 00:00:00"],
    Kind.TEXT: ["", "GIMAgg.GimInterfaceImpl.AggregationImpl"],
}
BAD: dict[Kind, list[str]] = {
    Kind.BOOL: ["yes", "1", ""],
    Kind.HHMM: ["24:00", "6:30", "06:60", "0630", "", "06:30:00"],
    Kind.DURATION: ["24:01", "25:00", "5", "-1:00", "05:60"],
    Kind.CRON: ["0/10", "0 0 *", "60 *", "0 24", "a b", "*/0 *", "5-1 *", ""],
    Kind.TIMEZONE: ["Mars/Base", "", "../etc/passwd", "EST5EDT6"],
    Kind.PATH: ["", "a\x00b"],
    Kind.ENCODING: ["klingon-8", ""],
    Kind.DATETIME: ["2026-05-01", "1969-12-31 23:59:59", "2026-13-01 00:00:00"],
    Kind.TEXT: ["x" * 300],
}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.section}:{s.name}")
def test_it_accepts_good_and_refuses_bad_values_of_every_option(spec):
    if spec.kind is Kind.INT:
        good = [str(spec.minimum), spec.default]
        bad = ["-1", "abc", "1.5", "", str(spec.minimum - 1)]
        if spec.maximum is not None:
            bad.append(str(spec.maximum + 1))
    else:
        good, bad = GOOD[spec.kind], BAD[spec.kind]
    spec.parse(spec.default)
    for v in good:
        spec.parse(v)
    for v in bad:
        with pytest.raises(ValueError) as exc:
            spec.parse(v)
        # The refusal names the option and the expected form.
        assert f"[{spec.section}] {spec.name}: expected" in str(exc.value)


def test_defaults_are_the_registry_defaults_in_every_section_model(db):
    assert current_values() == defaults()
    assert set(defaults()) == set(SECTION_MODELS)
    for section, model in SECTION_MODELS.items():
        fields = {f.name for f in model._meta.fields} - {"id"}
        assert fields == {s.field_name for s in SPECS if s.section == section}


def test_the_model_validates_with_the_same_parsers(db):
    row = ScheduleSection.load()
    row.etl_start_time = "6:30"
    with pytest.raises(ValidationError) as exc:
        row.full_clean()
    assert "etl-start-time: expected a time of day as HH:mm" in str(exc.value)


def test_update_saves_valid_values_and_audits_each_change(db):
    changes = update_options({"schedule": {"etl-start-time": "06:30", "run-scheduler": "TRUE"}}, by=ADMIN)
    assert {(c.option, c.old_value, c.new_value) for c in changes} == {
        ("etl-start-time", "06:00", "06:30"), ("run-scheduler", "false", "true")}
    assert OptionChange.objects.count() == 2
    assert OptionChange.objects.filter(changed_by="tester", via="test").count() == 2
    assert current_values()["schedule"]["etl-start-time"] == "06:30"
    assert update_options({"schedule": {"etl-start-time": "06:30"}}, by=ADMIN) == []  # no-op is not audited


def test_update_with_one_bad_value_changes_nothing(db):
    with pytest.raises(OptionsError) as exc:
        update_options({"schedule": {"etl-start-time": "07:00", "etl-frequency": "0"},
                        "gim-export": {"max-retries": "3", "bogus": "1"}}, by=ADMIN)
    assert set(exc.value.errors) == {"[schedule] etl-frequency", "[gim-export] bogus"}
    assert current_values() == defaults() and not OptionChange.objects.exists()


def test_ini_round_trip_keeps_every_value(db):
    update_options({"schedule": {"timezone": "Europe/Berlin", "aggregate-schedule": "0 0,3/2"},
                    "gim-export": {"start-date": "2026-01-01 00:00:00"}}, by=ADMIN)
    text = export_ini()
    assert "[schedule]\nrun-scheduler = false\ntimezone = Europe/Berlin\n" in text
    assert parse_ini(text) == current_values()
    assert render_ini(parse_ini(text)) == text


def test_import_of_a_file_with_one_bad_value_changes_nothing(db):
    update_options({"schedule": {"etl-frequency": "30"}}, by=ADMIN)
    before = current_values()
    with pytest.raises(OptionsError) as exc:
        import_ini("[schedule]\netl-start-time = 07:15\nmaintain-start-time = 25:00\n", by=ADMIN)
    assert "[schedule] maintain-start-time" in exc.value.errors
    assert current_values() == before


def test_import_resets_unset_options_to_their_default_unless_merging(db):
    update_options({"schedule": {"etl-frequency": "30"}}, by=ADMIN)
    import_ini("[schedule]\netl-start-time = 06:30\n", by=ADMIN, merge=True)
    assert current_values()["schedule"]["etl-frequency"] == "30"
    import_ini("[schedule]\netl-start-time = 06:30\n", by=ADMIN)
    assert current_values()["schedule"]["etl-frequency"] == "15"


def test_gim_config_command_exports_and_imports(db, tmp_path):
    out = StringIO()
    call_command("gim_config", "export", stdout=out)
    path = tmp_path / "gim.ini"
    path.write_text(out.getvalue().replace("etl-start-time = 06:00", "etl-start-time = 06:30"))
    out = StringIO()
    call_command("gim_config", "import", str(path), stdout=out)
    assert "etl-start-time: '06:00' -> '06:30'" in out.getvalue()
    assert "1 option(s) changed" in out.getvalue()
    path.write_text("[schedule]\netl-frequency = often\n")
    with pytest.raises(CommandError) as exc:
        call_command("gim_config", "import", str(path), stdout=StringIO())
    assert "nothing was changed" in str(exc.value) and "etl-frequency" in str(exc.value)
    assert current_values()["schedule"]["etl-start-time"] == "06:30"


def test_gim_config_check_fails_on_configuration_errors(db):
    call_command("gim_config", "check", stdout=StringIO())
    update_options({"schedule": {"maintain-start-time": "12:00"}}, by=ADMIN)
    with pytest.raises(CommandError):
        call_command("gim_config", "check", stdout=StringIO())


@pytest.mark.parametrize("schedule, fragment", [
    ({"maintain-start-time": "07:00"}, "inside the ETL window"),
    ({"etl-start-time": "05:00", "etl-end-time": "05:00"}, "covers the whole day"),
    ({"run-aggregates": "true", "aggregate-schedule": "0 2", "aggregate-duration": "05:00"},
     "Job_MaintainGIM would never start"),
])
def test_configuration_check_finds_contradictions(schedule, fragment):
    problems = check_configuration({"schedule": schedule})
    assert any(p.level == "error" and fragment in p.message for p in problems)


def test_configuration_check_passes_the_seed_sample_schedule():
    sample = {"etl-start-time": "06:30", "etl-end-time": "00:30", "etl-frequency": "30",
              "maintain-start-time": "03:00", "run-aggregates": "true", "aggregate-schedule": "0 4",
              "aggregate-duration": "23:00"}
    assert [p for p in check_configuration({"schedule": sample}) if p.level == "error"] == []


def test_configuration_check_of_cross_section_rules(db):
    update_options({"gim-etl": {"days-to-keep-cfg-facts": "100"}}, by=ADMIN)
    assert any("days-to-keep-cfg-facts" in e for e in configuration_errors())


def test_schedule_options_parse_from_values():
    opts = ScheduleOptions.from_values({"schedule": {"timezone": "Europe/Berlin"}}, etl_frequency="30")
    assert opts.tz.key == "Europe/Berlin" and opts.etl_frequency == 30
    with pytest.raises(ValueError, match=r"\[schedule\] etl-frequency"):
        ScheduleOptions.from_values(etl_frequency="0")
