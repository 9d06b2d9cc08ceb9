"""The probe's attacks on the portal itself (issue 12, findings 9 and 11):
old API tokens, pages without a Content-Security-Policy, cookies and HSTS
over HTTPS, long sessions, and what /healthz tells a stranger."""

from __future__ import annotations

import json
import re
import runpy
from datetime import timedelta
from unittest import mock

import pytest
import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.utils import timezone

from apps.api.models import ApiToken
from apps.engine.client import EngineStatus
from berth_cli.client import Client as CliClient
from tests.security_helpers import table_fixture

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

table = table_fixture("Portal: tokens, headers, sessions, health")

PASSWORD = "alice-password-1"  # tests/conftest.py's alice


def _apps(token: str):
    return Client().get("/api/apps", headers={"Authorization": f"Bearer {token}"})


def _cli_message(response) -> str:
    """What `berth` prints for this portal answer."""
    answer = requests.Response()
    answer.status_code = response.status_code
    answer._content = response.content
    answer.headers["Content-Type"] = response["Content-Type"]
    return str(CliClient("http://portal.test", "token")._error(answer, "GET", "/api/apps"))


def test_a_token_older_than_its_lifetime_is_refused_with_a_way_out(table, alice):
    with table.attack("9", "call the API with a token made 91 days ago") as row:
        _, token = ApiToken.objects.create_for(alice, "cli")
        assert _apps(token).status_code == 200
        later = timezone.now() + timedelta(days=91)
        with mock.patch("django.utils.timezone.now", return_value=later):
            r = _apps(token)
        assert r.status_code == 401, r.content
        assert settings.BERTH_TOKEN_DAYS == 90
        assert r.json()["error"]["code"] == "TokenExpired"
        printed = _cli_message(r)
        assert "expired" in printed and printed.count("berth login") == 1, printed
        row.outcome = f"refused: 401 TokenExpired; the CLI prints {printed!r}"


def test_a_token_still_works_inside_its_lifetime(alice):
    _, token = ApiToken.objects.create_for(alice, "cli")
    later = timezone.now() + timedelta(days=89)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert _apps(token).status_code == 200


def test_a_password_change_revokes_the_users_tokens(table, alice):
    with table.attack("9", "keep using a stolen token after the owner changed the password") as row:
        _, token = ApiToken.objects.create_for(alice, "cli")
        assert _apps(token).status_code == 200
        alice.set_password("a-new-password-2")
        alice.save()
        r = _apps(token)
        assert r.status_code == 401, r.content
        assert "password" in r.json()["error"]["message"]
        assert "berth login" in _cli_message(r)
        row.outcome = "refused: 401 TokenExpired (revoked by the password change)"


def test_a_new_token_after_a_password_change_works(alice):
    alice.set_password("a-new-password-2")
    alice.save()
    r = Client().post(
        "/api/token",
        {"username": "alice", "password": "a-new-password-2"},
        content_type="application/json",
    )
    assert r.status_code == 201
    assert r.json()["expires"] > r.json()["created"]
    assert _apps(r.json()["token"]).status_code == 200


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an on* handler attribute"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"<style\b", re.I), "a <style> element"),
]


def _inline_code(html: str) -> list[str]:
    return [what for pattern, what in INLINE if pattern.search(html)]


def test_every_page_carries_a_content_security_policy_without_inline_code(
    table, alice_client, webapp
):
    with table.attack("9", "inject a script into a page (no Content-Security-Policy)") as row:
        app = f"/apps/{webapp.name}"
        pages = [
            "/login/",
            "/",
            f"{app}/",
            f"{app}/configuration/",
            f"{app}/ssh/",
            f"{app}/logstream/",
            "/runtimes/",
        ]
        for url in pages:
            r = alice_client.get(url, follow=True)
            assert r.status_code in (200, 403), (url, r.status_code)
            csp = r.headers.get("Content-Security-Policy", "")
            directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
            assert directives.get("script-src") == "'self'", (url, csp)
            assert directives.get("object-src") == "'none'", (url, csp)
            assert directives.get("frame-ancestors") == "'none'", (url, csp)
            # What the policy would block must not be on the page.
            assert _inline_code(r.content.decode()) == [], url
        row.outcome = f"refused: script-src 'self' on {len(pages)} pages, none with inline code"


def test_htmx_is_told_not_to_inject_its_own_styles(alice_client):
    html = alice_client.get("/").content.decode()
    config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'", html)
    assert config and json.loads(config.group(1))["includeIndicatorStyles"] is False


def test_progress_partials_carry_no_style_attribute():
    # Swapped in by htmx every second: an inline width would be blocked.
    for name in ("templates/webapps/_operation.html", "templates/deployments/_progress.html"):
        text = (settings.BASE_DIR / name).read_text()
        assert _inline_code(text) == [], name


def test_cookies_are_secure_and_hsts_is_sent_over_https(table, alice):
    with table.attack(
        "9", "sign in over HTTPS, then catch the session cookie on plain HTTP"
    ) as row:
        client = Client()
        r = client.post("/login/", {"username": "alice", "password": PASSWORD}, secure=True)
        assert r.status_code == 302
        cookie = r.cookies["sessionid"]
        assert cookie["secure"] is True, cookie.output()
        assert cookie["httponly"] is True
        page = client.get("/", secure=True)
        assert int(page.headers["Strict-Transport-Security"].split("=")[1]) >= 180 * 86400
        row.outcome = "refused: the session cookie is Secure; HSTS max-age one year"


def test_plain_http_still_signs_in_without_hsts(alice):
    # `make run` serves http://127.0.0.1:8000: signing in there must go on working.
    client = Client()
    r = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert r.status_code == 302 and not r.cookies["sessionid"]["secure"]
    assert "Strict-Transport-Security" not in client.get("/").headers


def test_a_forged_forwarded_proto_is_not_trusted_unless_configured(settings, alice):
    forged = {"X-Forwarded-Proto": "https"}
    r = Client().post("/login/", {"username": "alice", "password": PASSWORD}, headers=forged)
    assert not r.cookies["sessionid"]["secure"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    r = Client().post("/login/", {"username": "alice", "password": PASSWORD}, headers=forged)
    assert r.cookies["sessionid"]["secure"] is True
    assert "Strict-Transport-Security" in r.headers


def test_a_session_lasts_a_working_day_not_two_weeks(table, alice):
    with table.attack("9", "reuse a portal session cookie days later") as row:
        r = Client().post("/login/", {"username": "alice", "password": PASSWORD})
        max_age = int(r.cookies["sessionid"]["max-age"])
        assert max_age <= 24 * 3600, max_age
        assert max_age == settings.SESSION_COOKIE_AGE
        row.outcome = f"refused: the session ends after {max_age // 3600} h"


UP = EngineStatus(reachable=True, message="Docker 27.5.1 is up", version="27.5.1")


def test_healthz_tells_a_stranger_no_versions(table, alice_client):
    with table.attack("11", "read the Docker version from /healthz without signing in") as row:
        with mock.patch("apps.core.views.engine_status", return_value=UP):
            r = Client().get("/healthz")
            signed_in = alice_client.get("/healthz")
        assert r.status_code == 200
        assert r.json()["engine"]["reachable"] is True
        assert "27.5" not in r.content.decode(), r.content
        assert "27.5.1" in signed_in.content.decode()
        row.outcome = "refused: 200 with reachability only; versions for signed-in users"


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("BERTH_TOKEN_DAYS", "0", "BERTH_TOKEN_DAYS=0: use 1 or more."),
        ("BERTH_SESSION_HOURS", "twelve", "BERTH_SESSION_HOURS='twelve': use a whole number."),
        ("SECURE_COOKIES", "maybe", "SECURE_COOKIES='maybe': use one of auto, true, false."),
    ],
)
def test_a_bad_security_setting_stops_start_up_with_a_clear_error(monkeypatch, name, value, says):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured) as refused:
        runpy.run_path(str(settings.BASE_DIR / "portal" / "settings.py"))
    assert str(refused.value) == says
