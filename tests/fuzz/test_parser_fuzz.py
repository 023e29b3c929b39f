"""Hypothesis fuzzing of every parser that takes user text: no crash (only
ValueError with a message naming what is expected), and what is accepted
round-trips."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gimmanager import formats, reagg
from gimmanager.config.services import Changer, OptionsError, current_values, import_ini
from gimmanager.ini import IniError, parse_ini, render_ini
from gimmanager.options import SPECS

FIELD = st.text(alphabet="0123456789*,/-", min_size=1, max_size=8)
ANY_TEXT = st.text(max_size=60)


@given(st.one_of(ANY_TEXT, st.tuples(FIELD, FIELD).map(" ".join)))
def test_cron_parser_accepts_or_explains(text):
    try:
        spec = formats.parse_cron(text)
    except ValueError as exc:
        assert "CRON expression of two fields" in str(exc)
        return
    assert spec.minutes and spec.hours
    assert all(0 <= m <= 59 for m in spec.minutes) and all(0 <= h <= 23 for h in spec.hours)
    assert formats.parse_cron(spec.text) == spec


@given(st.one_of(ANY_TEXT, st.from_regex(r"\A\d{1,3}:\d{1,3}\Z")))
def test_hhmm_and_duration_parsers_accept_or_explain(text):
    try:
        t = formats.parse_hhmm(text)
        assert f"{t:%H:%M}" == text.strip()
    except ValueError as exc:
        assert "HH:mm" in str(exc)
    try:
        d = formats.parse_duration(text)
        assert timedelta(0) <= d <= timedelta(hours=24)
    except ValueError as exc:
        assert "HH:mm" in str(exc)


REAGG = st.builds(
    lambda hs, level, flavor, start, days: (
        f"{reagg.FLAG} {','.join(hs)}-{level}{'.' + flavor if flavor else ''}:{start}:{start + timedelta(days=days)}"),
    st.lists(st.sampled_from(reagg.HIERARCHIES), unique=True, max_size=3),
    st.sampled_from(reagg.LEVELS), st.one_of(st.none(), st.sampled_from(reagg.FLAVORS)),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1)), st.integers(1, 400))


@given(REAGG)
def test_valid_reaggregation_parameters_parse_and_round_trip(text):
    parsed = reagg.parse(text)
    assert reagg.parse(parsed.as_param()) == parsed


@given(st.one_of(ANY_TEXT, ANY_TEXT.map(lambda s: f"{reagg.FLAG} {s}"),
                 REAGG.map(lambda s: s[:-3] + "x" + s[-2:])))
def test_reaggregation_parser_accepts_or_names_the_problem(text):
    try:
        reagg.parse(text)
    except ValueError as exc:
        assert str(exc).startswith("Job Parameters:")


OPTION_LINES = st.lists(
    st.tuples(st.sampled_from(SPECS), st.one_of(st.sampled_from(["", "0", "06:30", "true", "0/10 *", "GMT"]),
                                                st.text(alphabet="0123456789:/ *-aetrufls", max_size=8))),
    max_size=6)


@given(OPTION_LINES)
def test_ini_parser_accepts_or_lists_every_problem(lines):
    text = "".join(f"[{spec.section}]\n{spec.name} = {value}\n" for spec, value in lines)
    try:
        values = parse_ini(text)
    except IniError as exc:
        assert exc.problems and all("expected" in p or "unknown" in p or "not a valid INI" in p
                                    for p in exc.problems)
        return
    assert parse_ini(render_ini(values)) == values


@pytest.mark.django_db
@settings(max_examples=40, deadline=None)
@given(OPTION_LINES)
def test_ini_import_is_all_or_nothing(lines):
    text = "".join(f"[{spec.section}]\n{spec.name} = {value}\n" for spec, value in lines)
    before = current_values()
    try:
        import_ini(text, by=Changer(label="fuzz", via="test"), merge=True)
    except OptionsError as exc:
        assert exc.errors
        assert current_values() == before  # nothing half-applied
