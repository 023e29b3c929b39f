"""Configuration: every option with its Genesys name, default, valid values and help;
field errors from OptionsError with nothing saved; Administrator only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from gimmanager.config.models import OptionChange
from gimmanager.config.services import current_values
from gimmanager.options import SPECS
from tests.console.conftest import htmx

pytestmark = pytest.mark.django_db
URL = reverse("console:config")
SAVE = reverse("console:config-save")
PREVIEW = reverse("console:config-preview")


def form_data(**changes):
    """The whole form as the browser posts it, with some values changed ("section:option")."""
    data = {f"{s}:{o}": v for s, opts in current_values().items() for o, v in opts.items()}
    data.update(changes)
    return data


def test_it_shows_every_option_with_default_valid_values_and_help(as_viewer):
    body = as_viewer.get(URL).content.decode()
    for spec in SPECS:
        assert f"<code>{spec.name}</code>" in body
    assert "Default <code>0/10 *</code> · CRON (minute hour)" in body
    assert "whole number 0-30" in body and "Time zone in which every schedule time is defined" in body
    assert "No problem found" in body


def test_it_is_read_only_for_a_viewer(as_viewer):
    body = as_viewer.get(URL).content.decode()
    assert '<fieldset class="section" disabled>' in body and 'id="config-save"' not in body


def test_it_saves_through_the_option_service_and_audits(as_admin):
    r = as_admin.post(SAVE, form_data(**{"schedule:run-scheduler": "true", "schedule:etl-frequency": "30"}))
    assert r.status_code == 302 and r["Location"] == URL
    assert current_values()["schedule"]["etl-frequency"] == "30"
    changes = {(c.option, c.new_value, c.changed_by, c.via) for c in OptionChange.objects.all()}
    assert changes == {("run-scheduler", "true", "admin", "console"), ("etl-frequency", "30", "admin", "console")}
    assert "Saved 2 changes" in as_admin.get(URL).content.decode()


def test_it_redirects_the_whole_page_after_an_htmx_save(as_admin):
    r = as_admin.post(SAVE, form_data(**{"schedule:run-scheduler": "true"}), **htmx("config-form"))
    assert r.status_code == 200 and r["HX-Redirect"] == URL


def test_it_shows_field_errors_and_saves_nothing(as_admin):
    r = as_admin.post(SAVE, form_data(**{"schedule:etl-frequency": "30", "schedule:timezone": "Mars/Olympus",
                                         "gim-etl:days-to-keep-gdpr-history": "99"}), **htmx("config-form"))
    body = r.content.decode()
    assert r.status_code == 200 and body.lstrip().startswith('<form id="config-form"') and "<html" not in body
    assert "Nothing was saved: 2 values are not valid." in body
    assert "expected an IANA time-zone ID" in body and "expected a whole number from 0 to 30" in body
    assert 'value="Mars/Olympus"' in body  # the user's input is kept for correcting
    assert current_values()["schedule"]["etl-frequency"] == "15" and not OptionChange.objects.exists()


def test_it_refuses_anyone_but_an_administrator(as_viewer, as_operator):
    for c in (as_viewer, as_operator):
        assert c.post(SAVE, form_data(**{"schedule:run-scheduler": "true"})).status_code == 403
    assert current_values()["schedule"]["run-scheduler"] == "false"


def test_it_shows_the_configuration_check(as_admin):
    as_admin.post(SAVE, form_data(**{"schedule:maintain-start-time": "07:00"}))
    body = as_admin.get(URL).content.decode()
    assert "maintain-start-time</code>: 07:00 lies inside the ETL window" in body
    assert "While the check finds errors, no job starts" in body


def test_it_previews_the_posted_schedule_without_saving(as_viewer):
    r = as_viewer.post(PREVIEW, form_data(**{"schedule:etl-start-time": "06:30"}), **htmx("schedule-preview"))
    assert r.status_code == 200 and "<html" not in r.content.decode()
    assert current_values()["schedule"]["etl-start-time"] == "06:00"


def test_it_refuses_other_methods(as_admin):
    assert as_admin.get(SAVE).status_code == 405
    assert as_admin.get(PREVIEW).status_code == 405
    assert as_admin.post(URL).status_code == 405
