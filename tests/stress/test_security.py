"""Security checks over the whole URLconf, not a hand-picked list of pages:

- without sign-in every URL (console, API, admin, accounts) redirects to a sign-in
  page or answers 401/403, for GET, POST and an htmx GET; only the sign-in, sign-out,
  token and password-reset endpoints are public, each for a stated reason;
- each role's forbidden actions answer 403 through the pages AND the API, and change
  nothing (no run created, no status changed, no option changed, nothing audited);
- CSRF is enforced on every state-changing request a signed-in browser can make;
- no secret is committed (`git ls-files`: private keys, .env files, database files,
  hard-coded SECRET_KEY / passwords / tokens outside the tests).

`manage.py check --deploy` is in tests/foundation/test_deployment_files.py.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from gimmanager.catalog import Job, Status
from gimmanager.config.models import OptionChange
from gimmanager.config.services import current_values
from gimmanager.jobs import services
from gimmanager.jobs.models import JobRun, ReaggregationRequest
from tests.console.conftest import make_run
from tests.stress.urls import Url, all_urls

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

# URLs that must answer without sign-in, and why.
PUBLIC = {
    "login": "the sign-in form",
    "admin:login": "the admin's sign-in form",
    "logout": "sign-out (POST only; harmless without a session)",
    "admin:logout": "sign-out of the admin",
    "password_reset": "Django's password reset request form (sends mail only to a known address)",
    "password_reset_done": "static 'check your mail' page",
    "password_reset_confirm": "needs the signed token from the mail",
    "password_reset_complete": "static page",
    "api:token": "exchanges a user name and password for a token",
}

LOGIN_PATHS = ("/accounts/login/", "/admin/login/")


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing here needs a worker; a permitted request must not reach the broker either.
    monkeypatch.setattr(services, "_enqueue_on_commit", lambda run: None)
    monkeypatch.setattr(services, "_revoke", lambda task_id, terminate: None)


@pytest.fixture
def run() -> JobRun:
    return make_run(Job.EXTRACT, Status.COMPLETE)


@pytest.fixture
def urls(run: JobRun) -> list[Url]:
    found = all_urls(run.pk)
    assert len(found) > 50 and {"console:home", "api:runs", "admin:index"} <= {u.name for u in found}
    return found


def _refused_anonymous(r: Any) -> bool:
    if r.status_code in (401, 403):
        return True
    if r.status_code == 302:
        return r["Location"].split("?")[0] in LOGIN_PATHS
    # htmx: the whole page is sent to the sign-in form, with nothing else in the answer
    return r.status_code == 200 and r.get("HX-Redirect", "").split("?")[0] in LOGIN_PATHS and not r.content.strip()


# --- without sign-in ---------------------------------------------------------------------------


def test_every_url_refuses_anonymous_visitors(urls: list[Url]) -> None:
    c = Client()
    wrong = []
    for u in urls:
        if u.name in PUBLIC:
            continue
        for method, extra in (("get", {}), ("post", {}), ("get", {"HTTP_HX_REQUEST": "true"})):
            r = getattr(c, method)(u.path, **extra)
            if not _refused_anonymous(r):
                wrong.append(f"{method.upper()}{' htmx' if extra else ''} {u.path} ({u.name}) -> {r.status_code} "
                             f"{r.get('Location', '')}")
    assert not wrong, "answered without sign-in:\n" + "\n".join(wrong)


def test_every_api_url_refuses_a_bad_token_and_no_token(urls: list[Url]) -> None:
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    wrong = []
    for u in urls:
        if not u.name.startswith("api:") or u.name in PUBLIC:
            continue
        for c in (APIClient(), bad):
            for method in ("get", "post", "patch"):
                r = getattr(c, method)(u.path, {}, format="json")
                if r.status_code not in (401, 403):
                    wrong.append(f"{method.upper()} {u.path} -> {r.status_code}")
    assert not wrong, "\n".join(wrong)


def test_the_public_list_is_exactly_what_answers_without_sign_in(urls: list[Url]) -> None:
    """A URL on the public list that does not exist any more is removed from the list (kept honest)."""
    assert set(PUBLIC) <= {u.name for u in urls}


class UnreachableMailServer:
    """A mail backend that fails as SMTP does when no mail server listens (no traffic leaves the test)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send_messages(self, messages: Any) -> int:
        raise ConnectionRefusedError(111, "Connection refused")


def test_the_password_reset_form_does_not_crash_for_a_known_address(personas: dict[str, Any],
                                                                     settings: Any) -> None:
    """The reset form is public; posting a real user's address while no mail server answers (the
    production settings configure none) must not be a server error any visitor can cause."""
    settings.EMAIL_BACKEND = f"{__name__}.UnreachableMailServer"
    c = Client(raise_request_exception=False)
    r = c.post("/accounts/password_reset/", {"email": "viewer@example.com"})
    assert r.status_code in (200, 302), f"POST /accounts/password_reset/ for a known address -> {r.status_code}"


# --- roles ---------------------------------------------------------------------------------------


def _api(user: Any) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return c


def _page(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _snapshot() -> tuple[Any, ...]:
    return (list(JobRun.objects.order_by("id").values_list("id", "status", "stop_requested_at")),
            ReaggregationRequest.objects.count(), OptionChange.objects.count(), current_values())


def _forbidden_actions(role: str, running: JobRun, scheduled: JobRun) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(interface, method, path, data) of what `role` may not do."""
    config_save = ("page", "post", "/config/save/", {"schedule:run-scheduler": "false"})
    options = ("api", "patch", "/api/options/", {"schedule": {"run-scheduler": "false"}})
    if role == "operator":
        return [config_save, options]
    return [
        ("page", "get", "/run/", {}),
        ("page", "post", "/run/", {"job": "Job_ExtractICON"}),
        ("page", "post", "/run/", {"job": "Job_AggregateGIM",
                                   "params": "-insertPendingAgg ALLSETS:2026-01-01:2026-01-02"}),
        ("page", "get", "/reaggregate/", {}),
        ("page", "post", "/reaggregate/", {"scope": "ALLSETS", "start": "2026-01-01", "end": "2026-01-02"}),
        ("page", "get", "/reaggregate/check/", {}),
        ("page", "get", f"/stop/?selected={running.pk}", {}),
        ("page", "get", f"/runs/{running.pk}/stop/", {}),
        ("page", "post", f"/runs/{running.pk}/stop/", {}),
        ("page", "post", f"/runs/{scheduled.pk}/stop/", {}),
        ("page", "post", f"/runs/{scheduled.pk}/cancel/", {}),
        config_save,
        ("api", "post", "/api/runs/", {"job": "Job_ExtractICON"}),
        ("api", "post", "/api/runs/", {"job": "Job_TransformGIM"}),
        ("api", "post", f"/api/runs/{running.pk}/stop/", {}),
        ("api", "post", f"/api/runs/{scheduled.pk}/stop/", {}),
        ("api", "post", f"/api/runs/{scheduled.pk}/cancel/", {}),
        options,
    ]


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_each_role_gets_403_for_its_forbidden_actions_and_nothing_changes(personas: dict[str, Any],
                                                                          role: str) -> None:
    running = make_run(Job.EXTRACT, Status.RUNNING)
    scheduled = make_run(Job.EXTRACT, Status.SCHEDULED, by="manual")
    user = personas[role]
    page, api = _page(user), _api(user)
    before = _snapshot()
    wrong = []
    for interface, method, path, data in _forbidden_actions(role, running, scheduled):
        c = page if interface == "page" else api
        kwargs: dict[str, Any] = {"format": "json"} if interface == "api" else {}
        for extra in ({}, {"HTTP_HX_REQUEST": "true"}):
            if interface == "api" and extra:
                continue
            r = getattr(c, method)(path, data, **kwargs, **extra)
            if r.status_code != 403:
                wrong.append(f"{role} {interface} {method.upper()} {path}{' (htmx)' if extra else ''} "
                             f"-> {r.status_code}")
    assert not wrong, "\n".join(wrong)
    assert _snapshot() == before, "a refused request changed something"


def test_the_403s_are_about_the_role_not_a_broken_endpoint(personas: dict[str, Any]) -> None:
    """The same requests succeed for the role that may make them."""
    op, admin = _api(personas["operator"]), _api(personas["admin"])
    r = op.post("/api/runs/", {"job": "Job_ExtractICON"}, format="json")
    assert r.status_code == 201, r.content
    assert op.post(f"/api/runs/{r.data['run']['id']}/stop/", format="json").status_code == 202
    assert admin.patch("/api/options/", {"schedule": {"run-scheduler": "false"}}, format="json").status_code == 200
    page = _page(personas["admin"])
    assert page.post("/config/save/", {"schedule:run-scheduler": "true"}).status_code == 302
    assert current_values()["schedule"]["run-scheduler"] == "true"


def test_only_staff_reach_the_admin(personas: dict[str, Any]) -> None:
    for role in ("viewer", "operator"):
        r = _page(personas[role]).get("/admin/jobs/jobrun/")
        assert r.status_code == 302 and r["Location"].startswith("/admin/login/"), role


# --- CSRF ----------------------------------------------------------------------------------------


def test_csrf_is_enforced_on_every_state_changing_request(urls: list[Url], personas: dict[str, Any],
                                                          run: JobRun) -> None:
    """A signed-in browser session: every POST (and the API's PATCH) without the CSRF token is refused
    before the view runs, so a third-party page cannot make an Administrator's browser act."""
    c = Client(enforce_csrf_checks=True)
    c.force_login(personas["admin"])
    before = _snapshot()
    wrong = []
    for u in urls:
        methods = ["post"] + (["patch", "put", "delete"] if u.name.startswith("api:") else [])
        for method in methods:
            r = getattr(c, method)(u.path, {} if method == "post" else "{}",
                                   **({} if method == "post" else {"content_type": "application/json"}))
            if r.status_code != 403:
                wrong.append(f"{method.upper()} {u.path} ({u.name}) -> {r.status_code}")
            elif u.name.startswith("api:"):
                assert b"CSRF" in r.content, (u.path, r.content)
    assert not wrong, "accepted without a CSRF token:\n" + "\n".join(wrong)
    assert _snapshot() == before


def test_with_the_token_the_same_requests_go_through(personas: dict[str, Any]) -> None:
    c = Client(enforce_csrf_checks=True)
    c.force_login(personas["admin"])
    c.get("/config/")
    token = c.cookies["csrftoken"].value
    r = c.post("/config/save/", {"schedule:run-scheduler": "false"}, HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 302 and current_values()["schedule"]["run-scheduler"] == "false"
    r = c.post("/run/", {"job": "Job_ExtractICON"}, HTTP_X_CSRFTOKEN=token, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and JobRun.objects.filter(job=Job.EXTRACT, status=Status.RUNNING).exists()


def test_api_tokens_need_no_csrf_but_sessions_do(personas: dict[str, Any]) -> None:
    """Token requests carry no ambient credential, so CSRF does not apply to them."""
    r = _api(personas["operator"]).post("/api/runs/", {"job": "Job_TransformGIM"}, format="json")
    assert r.status_code == 201


# --- secrets in the repository ------------------------------------------------------------------

SECRET_FILE_NAMES = re.compile(
    r"(^|/)(\.env(\..+)?|id_(rsa|dsa|ecdsa|ed25519)|.*\.(pem|key|p12|pfx|jks|keystore|sqlite3?|db|dump)"
    r"|django_secret_key|admin-password|celerybeat-schedule.*|\.pgpass|\.netrc)$", re.I)
SECRET_CONTENT = [
    (re.compile(r"-----BEGIN ([A-Z]+ )?PRIVATE KEY-----"), "a private key"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "an AWS access key"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), "a GitHub token"),
    (re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"""SECRET_KEY\s*[:=]\s*['"][^'"]{8,}['"]"""), "a hard-coded SECRET_KEY"),
    (re.compile(r"""(?i)\b(password|passwd|api_key|apikey|secret)\s*[:=]\s*['"][^'"\s$]{6,}['"]"""),
     "a hard-coded password or key"),
    (re.compile(r"(?i)\b(postgres(ql)?|redis|amqp)://[^:/@\s]+:[^@\s$]{3,}@"), "a password in a URL"),
]
# (path, what) pairs that were reviewed and are not secrets.
ALLOWED = {
    # the compose file's own database: not published outside the compose network,
    # and anyone deploying is told to set DJANGO_SECRET_KEY in .env
    ("docker-compose.yml", "a password in a URL"),
}


def _tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [p for p in out.decode().split("\0") if p]


def test_no_secret_is_committed() -> None:
    files = _tracked_files()
    assert len(files) > 50
    found = []
    for path in files:
        if SECRET_FILE_NAMES.search(path):
            found.append(f"{path}: a file that holds secrets or data")
            continue
        full = ROOT / path
        if not full.is_file() or full.stat().st_size > 2_000_000:
            continue
        data = full.read_bytes()
        if b"\0" in data[:4096]:
            continue  # binary (screenshots)
        text = data.decode("utf-8", "replace")
        in_tests = path.startswith("tests/")
        for rx, what in SECRET_CONTENT:
            if (path, what) in ALLOWED:
                continue
            for m in rx.finditer(text):
                if in_tests and what != "a private key":
                    continue  # test fixtures' throwaway keys and passwords ("pw-viewer", "s" * 60)
                found.append(f"{path}: {what}: {m.group(0)[:60]}")
    assert not found, "\n".join(found)


def test_the_local_secrets_are_ignored_by_git() -> None:
    """The random SECRET_KEY and admin password that `make run` keeps under var/ never get committed."""
    for path in ("var/django_secret_key", "var/admin-password", ".env", "var/gim.sqlite3", "output/x.csv"):
        r = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert r.returncode == 0, f"{path} is not ignored by .gitignore"
