"""Sign-in: every page needs it; the sign-in form; sign-out by POST."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.console.conftest import htmx

pytestmark = pytest.mark.django_db

PAGES = ["console:home", "console:run-job", "console:reaggregate", "console:stop-selected", "console:schedule",
         "console:etl-status", "console:decisions", "console:config", "console:audit"]


@pytest.mark.parametrize("name", PAGES)
def test_it_sends_anonymous_visitors_to_sign_in(client, name):
    r = client.get(reverse(name))
    assert r.status_code == 302 and r["Location"] == f"/accounts/login/?next={reverse(name)}"


@pytest.mark.parametrize("name", ["console:run-detail", "console:run-live", "console:run-log", "console:stop-run"])
def test_it_protects_run_pages_too(client, name):
    assert client.get(reverse(name, args=[1])).status_code == 302


def test_it_refuses_anonymous_posts_without_doing_anything(client):
    r = client.post(reverse("console:run-job"), {"job": "Job_ExtractICON"}, **htmx())
    assert r.status_code == 200 and "HX-Redirect" in r  # htmx: the whole page goes to the sign-in form
    assert client.post(reverse("console:config-save"), {}).status_code == 302


def test_it_signs_in_and_out(client, personas):
    page = client.get(reverse("login")).content.decode()
    assert 'name="username"' in page and 'name="password"' in page
    bad = client.post(reverse("login"), {"username": "viewer", "password": "wrong"})
    assert "didn't match" in bad.content.decode()
    r = client.post(reverse("login"), {"username": "viewer", "password": "pw-viewer", "next": "/audit/"})
    assert r.status_code == 302 and r["Location"] == "/audit/"
    assert client.get(reverse("console:home")).status_code == 200
    assert client.get(reverse("logout")).status_code == 405  # sign-out is a POST (CSRF-protected)
    client.post(reverse("logout"))
    assert client.get(reverse("console:home")).status_code == 302


def test_it_shows_the_signed_in_user_and_sign_out_button(as_operator):
    body = as_operator.get(reverse("console:home")).content.decode()
    assert 'title="Operator">operator</span>' in body and "Sign out" in body
