"""While PostgreSQL is unreachable, pages answer 503 with a plain message and the API
answers 503 in JSON, both with Retry-After; no 500, no stack trace, no host name.

The outage is real: the test's connection is pointed at a closed port, so the first
query of the request fails in psycopg exactly as when the server is down."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.db import OperationalError, connection
from django.test import Client
from rest_framework.authtoken.models import Token


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


@pytest.fixture
def stop_database(transactional_db: None) -> Iterator[Callable[[], None]]:
    """Call it to make every later query fail (the test's data is written before)."""
    real = dict(connection.settings_dict)

    def stop() -> None:
        connection.close()
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()))

    yield stop
    connection.close()
    connection.settings_dict.update(HOST=real["HOST"], PORT=real["PORT"])


def _viewer_client(personas: dict[str, Any]) -> Client:
    c = Client(raise_request_exception=False)
    c.force_login(personas["viewer"])
    return c


@pytest.mark.parametrize("path", ["/", "/config/", "/runs/1/"])
def test_it_answers_pages_with_503_and_a_plain_message(personas: dict[str, Any],
                                                       stop_database: Callable[[], None], path: str) -> None:
    c = _viewer_client(personas)
    stop_database()
    r = c.get(path)
    body = r.content.decode()
    assert r.status_code == 503, (r.status_code, body[:300])
    assert r["Content-Type"].startswith("text/plain") and r["Retry-After"] == "10"
    assert "database is not reachable" in body
    assert "Traceback" not in body and "127.0.0.1" not in body and "OperationalError" not in body


def test_it_answers_the_api_with_503_in_json(personas: dict[str, Any], stop_database: Callable[[], None]) -> None:
    token = Token.objects.create(user=personas["viewer"]).key
    stop_database()
    c = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")
    for path in ("/api/options/", "/api/runs/"):
        r = c.get(path)
        assert r.status_code == 503 and r["Retry-After"] == "10", (path, r.status_code, r.content[:300])
        assert "database is not reachable" in r.json()["detail"] and "127.0.0.1" not in r.json()["detail"]


def test_it_answers_503_when_a_middleware_fails_before_the_view(personas: dict[str, Any],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    c = _viewer_client(personas)

    def down(self: Any, request: Any) -> None:
        raise OperationalError("connection to server at 127.0.0.1 failed")

    monkeypatch.setattr(AuthenticationMiddleware, "process_request", down)
    r = c.get("/")
    assert r.status_code == 503 and r["Retry-After"] == "10" and b"database" in r.content
    assert c.get("/api/runs/").json()["detail"].startswith("The Info Mart database is not reachable")


def test_other_errors_stay_a_plain_500(personas: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    c = _viewer_client(personas)

    def broken(self: Any, request: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(AuthenticationMiddleware, "process_request", broken)
    r = c.get("/")
    assert r.status_code == 500 and not r.has_header("Retry-After") and b"a bug" not in r.content
