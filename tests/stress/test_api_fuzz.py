"""Bad input, generated: the JSON API from its own OpenAPI schema (schemathesis), and the
console's forms (hypothesis). No server error; every refusal names the field; nothing
is saved half-way.

The schema is the one the running app serves at /api/schema/ (fetched with a token, as
a client would), and the requests go through the Django WSGI application in-process, on
the test database. Each operation gets a bounded number of examples (positive and
negative generation), as an Administrator and as a Viewer.
"""

from __future__ import annotations

import html
import json
import re
import string
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode

from console.forms import RunJobForm
from gimmanager.catalog import Job, Status
from gimmanager.config.models import OptionChange
from gimmanager.config.services import current_values
from gimmanager.jobs import services
from gimmanager.jobs.models import JobRun
from gimmanager.options import SECTIONS, SPECS, Kind, specs_of
from tests.console.conftest import make_run

pytestmark = pytest.mark.django_db

EXAMPLES = 25  # per operation, per generation mode, per role
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "_enqueue_on_commit", lambda run: None)
    monkeypatch.setattr(services, "_revoke", lambda task_id, terminate: None)


def _app() -> Any:
    """The project's WSGI application, on the test's database connection: like Django's test
    client, it keeps request_started/finished from closing the connection in the test's
    transaction."""
    from django.core import signals
    from django.db import close_old_connections

    wsgi = get_wsgi_application()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            response = wsgi(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                response.close()
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)

    return app


def _token(user: Any) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def _field_names(case: Any) -> set[str]:
    """Every name the request carried: query parameters, path parameters, body properties."""
    names: set[str] = set()
    for part in (case.query, case.path_parameters):
        names |= set(part or {})
    if isinstance(case.body, dict):
        names |= set(case.body)
        for section, opts in case.body.items():
            if isinstance(opts, dict):
                names |= {f"[{section}] {k}" for k in opts}
    return names


def _known_names(raw: Any) -> set[str]:
    """Every parameter and property name the schema documents."""
    names: set[str] = set()
    if isinstance(raw, dict):
        if isinstance(raw.get("properties"), dict):
            names |= set(raw["properties"])
        if "name" in raw and raw.get("in") in ("query", "path", "header"):
            names.add(raw["name"])
        for v in raw.values():
            names |= _known_names(v)
    elif isinstance(raw, list):
        for v in raw:
            names |= _known_names(v)
    return names


def _problems(case: Any, response: Any, known: set[str]) -> list[str]:
    status = response.status_code
    if status >= 500:
        return [f"{status} server error"]
    if status != 400:
        return []
    try:
        body = json.loads(response.content)
    except ValueError:
        return ["400 without a JSON body"]
    errors = body.get("errors", body) if isinstance(body, dict) else None
    if not isinstance(errors, dict) or not errors:
        return [f"400 that names no field: {body!r:.200}"]
    for key, msgs in errors.items():
        text = " ".join(map(str, msgs)) if isinstance(msgs, list) else str(msgs)
        if not text.strip():
            return [f"400 for {key} with an empty message"]
        if key == "detail":
            # DRF's answer to a body that is not JSON at all: there is no field to name,
            # the message must say that the body is the problem
            if "parse error" not in text.lower() and "json" not in text.lower():
                return [f"400 with a bare detail: {text:.200}"]
        elif key not in known | _field_names(case) | {"body", "non_field_errors"}:
            return [f"400 names {key!r}, which is neither a documented field nor one that was sent"]
    return []


def _fuzz_operations(schema: Any, token: str) -> tuple[int, list[str]]:
    calls, failures, skipped = 0, [], []
    known = _known_names(schema.raw_schema)
    headers = {"Authorization": f"Token {token}"}
    for result in schema.get_all_operations():
        op = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            seen: list[str] = []

            @FUZZ
            @given(case=op.as_strategy(generation_mode=mode))
            def check(case: Any) -> None:
                nonlocal calls
                response = case.call(headers=headers)
                calls += 1
                for problem in _problems(case, response, known):
                    seen.append(f"{op.method.upper()} {op.path} [{mode.value}] {problem}\n    "
                                f"{case.as_curl_command(headers=headers)}\n    -> {response.content[:300]!r}")

            try:
                check()
            except Unsatisfiable:
                # nothing to make invalid (an operation without parameters or body)
                skipped.append(f"{op.method.upper()} {op.path} [{mode.value}]")
            failures += seen[:3]  # a few examples per operation are enough to read
    print("no example could be generated for:", skipped)
    return calls, failures


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_the_api_survives_schema_driven_fuzzing(personas: dict[str, Any], role: str) -> None:
    for status in (Status.COMPLETE, Status.RUNNING, Status.SCHEDULED, Status.FAILED):
        make_run(Job.EXTRACT if status != Status.RUNNING else Job.TRANSFORM, status)
    token = _token(personas[role])
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", _app(),
                                           headers={"Authorization": f"Token {token}"})
    calls, failures = _fuzz_operations(schema, token)
    assert calls >= 200, f"only {calls} requests were generated"
    assert not failures, "\n".join(failures)


def _schema_check_failures(personas: dict[str, Any], checks: list[Any]) -> dict[str, str]:
    make_run(Job.EXTRACT, Status.COMPLETE)
    token = _token(personas["admin"])
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", _app(),
                                           headers={"Authorization": f"Token {token}"})
    headers = {"Authorization": f"Token {token}"}
    kinds: dict[str, str] = {}
    for result in schema.get_all_operations():
        op = result.ok()

        @FUZZ
        @given(case=op.as_strategy(generation_mode=GenerationMode.POSITIVE))
        def check(case: Any) -> None:
            try:
                case.call_and_validate(headers=headers, checks=checks)
            except (Exception, BaseExceptionGroup) as exc:  # a FailureGroup with the check's report
                text = str(exc)
                for code in sorted(set(re.findall(r"^- (ST\d+ [^\n]+)", text, re.M))) or [type(exc).__name__]:
                    kinds.setdefault(f"{op.method.upper()} {op.path}: {code}", text[:1500])

        try:
            check()
        except Unsatisfiable:
            pass
    return kinds


def test_responses_match_the_schema(personas: dict[str, Any]) -> None:
    """schemathesis' own checks on valid requests: no server error, and every answer has the
    documented content type and JSON shape."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

    kinds = _schema_check_failures(personas, [not_a_server_error, content_type_conformance,
                                              response_schema_conformance])
    assert not kinds, "\n".join(kinds) + "\n\nfirst example of each:\n" + "\n".join(kinds.values())


def test_every_status_code_is_documented(personas: dict[str, Any]) -> None:
    from schemathesis.specs.openapi.checks import positive_data_acceptance, status_code_conformance

    kinds = _schema_check_failures(personas, [status_code_conformance, positive_data_acceptance])
    assert not kinds, "\n".join(kinds) + "\n\nfirst example of each:\n" + "\n".join(kinds.values())


# --- values the generators rarely reach -------------------------------------------------------------

INT_OPTIONS = [s for s in SPECS if s.kind is Kind.INT]


@pytest.mark.parametrize("spec", INT_OPTIONS, ids=lambda s: f"{s.section}.{s.name}")
def test_a_huge_whole_number_option_is_refused_not_a_server_error(personas: dict[str, Any], spec: Any) -> None:
    """12 digits pass the option's own check when it has no maximum, then overflow the database
    column (a 500, through the API, the console and `gim_config import` alike)."""
    before = current_values()
    api = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {_token(personas['admin'])}")
    r = api.patch("/api/options/", {spec.section: {spec.name: "999999999999"}}, content_type="application/json")
    assert r.status_code == 400 and f"[{spec.section}] {spec.name}" in r.json()["errors"], (
        f"PATCH {spec.section}.{spec.name}=999999999999 -> {r.status_code}")
    page = Client(raise_request_exception=False)
    page.force_login(personas["admin"])
    r = page.post("/config/save/", {f"{spec.section}:{spec.name}": "999999999999"})
    assert r.status_code == 200 and spec.name in r.content.decode(), r.status_code
    assert current_values() == before


ODD_NUMBERS = ["²", "٣", "１２", "1e3", "-1", "0", "99999999999999999999999", " 5", "5 ", "", "NaN", "0x10",
               "1_000"]


@pytest.mark.parametrize("name", ["limit", "log"])
@pytest.mark.parametrize("value", ODD_NUMBERS)
def test_numeric_query_parameters_never_crash(personas: dict[str, Any], value: str, name: str) -> None:
    """`limit` (GET /api/runs/) and `log` (GET /api/runs/{id}/) are parsed by hand: digits that
    are not ASCII (str.isdigit() is true for '²', int('²') raises) must be refused or ignored,
    not turned into a 500."""
    run = make_run(Job.EXTRACT, Status.COMPLETE)
    c = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {_token(personas['viewer'])}")
    path = "/api/runs/" if name == "limit" else f"/api/runs/{run.pk}/"
    r = c.get(path, {name: value})
    assert r.status_code in (200, 400), f"GET {path}?{name}={value!r} -> {r.status_code}"


@pytest.mark.parametrize("value", ["²", "٣", "１２", "99999999999999999999999", "-1", "#²"])
def test_numeric_page_parameters_never_crash(personas: dict[str, Any], value: str) -> None:
    """The pages parse a few numbers by hand too: the selected run, the live log's cursor,
    and a run number typed in the history's text filter."""
    run = make_run(Job.EXTRACT, Status.RUNNING)
    c = Client(raise_request_exception=False)
    c.force_login(personas["operator"])
    api = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {_token(personas['viewer'])}")
    for client, path, params, extra in (
        (c, "/", {"selected": value}, {}),
        (c, "/", {"q": value}, {}),
        (c, "/", {"q": value}, {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "history-grid"}),
        (c, "/stop/", {"selected": value}, {"HTTP_HX_REQUEST": "true"}),
        (c, f"/runs/{run.pk}/live/", {"after": value}, {"HTTP_HX_REQUEST": "true"}),
        (api, "/api/runs/", {"q": value}, {}),
    ):
        r = client.get(path, params, **extra)
        assert r.status_code in (200, 286, 400), f"GET {path}?{params} -> {r.status_code}"


# --- the console's forms ---------------------------------------------------------------------------


def _option_value(kind: Kind) -> st.SearchStrategy[str]:
    digits = st.integers(-5, 99).map(str)
    plausible = {
        Kind.BOOL: st.sampled_from(["true", "false", "TRUE", "yes", "1", ""]),
        Kind.HHMM: st.builds(lambda h, m: f"{h}:{m}", digits, digits),
        Kind.DURATION: st.builds(lambda h, m: f"{h}:{m}", digits, digits),
        Kind.CRON: st.lists(st.sampled_from(["*", "0", "5", "0/10", "1-3", "7,8", "60", "24", "*/0", "a"]),
                            min_size=0, max_size=3).map(" ".join),
        Kind.TIMEZONE: st.sampled_from(["GMT", "UTC", "Europe/Berlin", "America/New_York", "Mars/Base", "",
                                        "../etc/passwd", "Etc/GMT+14"]),
        Kind.INT: st.one_of(st.integers(-10, 10**12).map(str), st.sampled_from(["", "1.5", "²", " 7"])),
        Kind.PATH: st.sampled_from(["output", "/tmp/gim-fuzz-out", "", "a" * 2000, "out\0put", "../../x"]),
        Kind.ENCODING: st.sampled_from(["utf-8", "UTF-16", "latin-1", "klingon", ""]),
        Kind.DATETIME: st.sampled_from(["", "2026-01-01", "2026-13-01", "2026-01-01T10:00", "yesterday"]),
        Kind.TEXT: st.text(max_size=50),
    }[kind]
    return st.one_of(plausible, st.text(max_size=40),
                     st.text(alphabet=string.printable, max_size=1100))


OPTION_FIELDS = [(s, f"{s.section}:{s.name}") for sec in SECTIONS for s in specs_of(sec)]


@st.composite
def option_posts(draw: Any) -> dict[str, str]:
    chosen = draw(st.lists(st.sampled_from(OPTION_FIELDS), min_size=1, max_size=6, unique_by=lambda x: x[1]))
    return {name: draw(_option_value(spec.kind)) for spec, name in chosen}


def test_config_form_fuzz(personas: dict[str, Any]) -> None:
    c = Client(raise_request_exception=False)
    c.force_login(personas["admin"])
    refused = saved = 0

    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(post=option_posts(), htmx=st.booleans())
    def check(post: dict[str, str], htmx: bool) -> None:
        nonlocal refused, saved
        before, audits = current_values(), OptionChange.objects.count()
        r = c.post("/config/save/", post, **({"HTTP_HX_REQUEST": "true"} if htmx else {}))
        assert r.status_code < 500, f"{post!r} -> {r.status_code}"
        after = current_values()
        if r.status_code == 302 or r.get("HX-Redirect"):
            saved += 1
            for name, raw in post.items():  # all of it saved
                section, option = name.split(":")
                want = raw.strip().lower() if after[section][option] in ("true", "false") else raw.strip()
                assert after[section][option] == want, (name, raw, after[section][option])
            return
        refused += 1
        assert after == before and OptionChange.objects.count() == audits, f"half-saved: {post!r}"
        page = r.content.decode()
        named = [name.split(":")[1] for name in post if name.split(":")[1] in page]
        assert "errorlist" in page or "refused" in page.lower() or "error" in page.lower(), page[:500]
        assert named, f"refusal names no submitted option: {post!r}"

    check()
    assert refused and saved, (refused, saved)


def test_run_job_form_fuzz(personas: dict[str, Any]) -> None:
    """Random job names and parameters: no 500; a refusal names the field (Job / Job Parameters)
    or the rule; a refused request creates no run."""
    c = Client(raise_request_exception=False)
    c.force_login(personas["operator"])
    jobs = st.one_of(st.sampled_from([j.value for j in Job]), st.text(max_size=30), st.just(""))
    params = st.one_of(
        st.just(""), st.text(max_size=80),
        st.builds(lambda s, a, b: f"-insertPendingAgg {s}:{a}:{b}",
                  st.sampled_from(["ALLSETS", "H_AGENT-HOUR", "H_QUEUE,H_AGENT-DAY.Online", "H_NOPE-DAY", "",
                                   "H_AGENT-", "ALLSETS:"]),
                  st.dates().map(str) | st.text(max_size=12), st.dates().map(str) | st.text(max_size=12)))

    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(job=jobs, params=params, htmx=st.booleans())
    def check(job: str, params: str, htmx: bool) -> None:
        before = JobRun.objects.count()
        r = c.post("/run/", {"job": job, "params": params}, **({"HTTP_HX_REQUEST": "true"} if htmx else {}))
        assert r.status_code < 500, f"{job!r} {params!r} -> {r.status_code}"
        assert r.status_code == 200, r.status_code
        page = html.unescape(r.content.decode())
        created = JobRun.objects.count() - before
        form = RunJobForm({"job": job, "params": params})
        if not form.is_valid():
            # refused by the form: nothing created, every error is on a named field and shown
            assert created == 0
            assert set(form.errors) <= {"job", "params"}, form.errors
            assert 'class="errors"' in page
            for field, errors in form.errors.items():
                for e in errors:
                    assert (f"Job: {e}" if field == "job" else e) in page, (field, e)
        else:
            # the service answered (started, scheduled, handed over or refused with its reason)
            assert created in (0, 1)
            assert 'class="outcome ' in page, page[:300]

    check()
