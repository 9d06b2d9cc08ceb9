"""Sign-in throttling (django-axes, apps.access.lockout): after N failed
sign-ins for one user name from one address, the login form and POST
/api/token (`berth login`) answer 429 saying when to try again; a success
resets the count; the lock ends after the cool-off."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.test import Client

from apps.api.models import ApiToken

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

LIMIT = 3
PASSWORD = "alice-password-1"  # tests/conftest.py
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def sign_in(client: Client, password: str, username: str = "alice", **kwargs):
    return client.post("/login/", {"username": username, "password": password}, **kwargs)


def token(client: Client, password: str, username: str = "alice", **kwargs):
    return client.post(
        "/api/token",
        {"username": username, "password": password},
        content_type="application/json",
        **kwargs,
    )


def back_in_time(minutes: int) -> None:
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= timedelta(minutes=minutes)
        attempt.save()


# --- the login form ----------------------------------------------------------------------


def test_the_form_locks_after_the_limit_and_says_when_to_retry(client, alice):
    for _ in range(LIMIT - 1):
        r = sign_in(client, "wrong")
        assert r.status_code == 200
        assert "didn't match" in r.content.decode()
    r = sign_in(client, "wrong")
    assert r.status_code == 429
    body = r.content.decode()
    assert 'id="lockout"' in body
    assert "Too many failed sign-ins for &#x27;alice&#x27; from this address" in body
    assert "try again in 15 minutes (after" in body
    assert 'name="password"' in body  # still the form
    assert 890 <= int(r["Retry-After"]) <= 900

    # Even the right password is refused while locked, and no session starts.
    r = sign_in(client, PASSWORD)
    assert r.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_success_resets_the_count(client, alice):
    for _ in range(LIMIT - 1):
        assert sign_in(client, "wrong").status_code == 200
    assert sign_in(client, PASSWORD).status_code == 302
    client.post("/logout/")
    for _ in range(LIMIT - 1):
        assert sign_in(client, "wrong").status_code == 200
    assert sign_in(client, PASSWORD).status_code == 302


def test_the_lock_is_for_one_user_from_one_address(client, alice, bob):
    for _ in range(LIMIT):
        sign_in(client, "wrong")
    assert sign_in(client, PASSWORD).status_code == 429
    # Another user from the same address, and the same user from another one.
    assert sign_in(Client(), "bob-password-1", "bob").status_code == 302
    assert sign_in(Client(), PASSWORD, REMOTE_ADDR="10.9.8.7").status_code == 302


def test_the_lock_ends_after_the_cool_off(client, alice):
    for _ in range(LIMIT):
        sign_in(client, "wrong")
    assert sign_in(client, PASSWORD).status_code == 429
    back_in_time(16)
    assert sign_in(client, PASSWORD).status_code == 302


def test_attempts_while_locked_do_not_move_the_retry_time(client, alice):
    for _ in range(LIMIT):
        sign_in(client, "wrong")
    first = AccessAttempt.objects.get().attempt_time
    for _ in range(3):
        assert sign_in(client, "wrong").status_code == 429
    assert AccessAttempt.objects.get().attempt_time == first


def test_the_admin_login_is_throttled_too(client, admin_user):
    for _ in range(LIMIT):
        client.post("/admin/login/", {"username": "root", "password": "wrong"})
    r = client.post("/admin/login/", {"username": "root", "password": "root-password-1"})
    assert r.status_code == 429


# --- POST /api/token (`berth login`) ----------------------------------------------------------


def test_the_api_locks_after_the_limit_with_a_json_error(client, alice):
    for _ in range(LIMIT - 1):
        r = token(client, "wrong")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "InvalidCredentials"
    r = token(client, "wrong")
    assert r.status_code == 429
    error = r.json()["error"]
    assert error["code"] == "TooManySignInAttempts"
    assert error["message"].startswith("Too many failed sign-ins for 'alice' from this address")
    assert "try again in 15 minutes (after " in error["message"]
    assert 890 <= int(r["Retry-After"]) <= 900
    assert set(r.json()) == {"error"}

    r = token(client, PASSWORD)
    assert r.status_code == 429
    assert not ApiToken.objects.exists()


def test_a_token_sign_in_resets_the_count(client, alice):
    for _ in range(LIMIT - 1):
        assert token(client, "wrong").status_code == 401
    assert token(client, PASSWORD).status_code == 201
    for _ in range(LIMIT - 1):
        assert token(client, "wrong").status_code == 401
    assert token(client, PASSWORD).status_code == 201
    alice.refresh_from_db()
    assert alice.last_login is not None


def test_the_form_and_the_api_count_together(client, alice):
    for _ in range(LIMIT - 1):
        sign_in(client, "wrong")
    assert token(client, "wrong").status_code == 429
    assert sign_in(client, PASSWORD).status_code == 429


def test_the_api_lock_ends_after_the_cool_off(client, alice):
    for _ in range(LIMIT):
        token(client, "wrong")
    back_in_time(16)
    assert token(client, PASSWORD).status_code == 201


def test_unknown_users_are_throttled_alike(client, db):
    # Guessing user names gets the same answers as guessing passwords.
    for _ in range(LIMIT - 1):
        assert token(client, "x", "nobody").status_code == 401
    assert token(client, "x", "nobody").status_code == 429


def test_the_openapi_document_lists_the_429(client):
    doc = client.get("/api/openapi.json").json()
    assert "429" in doc["paths"]["/api/token"]["post"]["responses"]


# --- the settings -------------------------------------------------------------------------


def test_the_limit_and_cool_off_come_from_the_environment(tmp_path):
    env = {
        **os.environ,
        "BERTH_DATA_DIR": str(tmp_path),
        "BERTH_LOGIN_FAILURE_LIMIT": "7",
        "BERTH_LOGIN_COOLOFF_MINUTES": "2",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds(), s.AXES_ENABLED, "
        "s.AUTHENTICATION_BACKENDS[0], s.MIDDLEWARE[-1])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        "7",
        "120.0",
        "True",
        "axes.backends.AxesStandaloneBackend",
        "axes.middleware.AxesMiddleware",
    ]


# --- `berth login`, as a person runs it -----------------------------------------------------


def test_berth_login_says_when_to_try_again(live_server, transactional_db, tmp_path):
    from django.contrib.auth.models import User

    User.objects.create_user("carol", "carol@example.org", "carol-password-1")
    env = {**os.environ, "BERTH_CONFIG_DIR": str(tmp_path / "cfg")}
    for name in ("BERTH_URL", "BERTH_TOKEN", "BERTH_OUTPUT"):
        env.pop(name, None)

    def login(password: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "berth_cli", "login", "--url", live_server.url, "-u", "carol"]
            + ["--password-stdin"],
            input=password + "\n",
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )

    for _ in range(LIMIT - 1):
        assert "(InvalidCredentials)" in login("wrong").stderr
    locked = login("wrong")
    assert locked.returncode == 1
    assert "ERROR: (TooManySignInAttempts) Too many failed sign-ins for 'carol'" in locked.stderr
    assert "try again in 15 minutes" in locked.stderr
    assert "Traceback" not in locked.stderr
    assert login("carol-password-1").returncode == 1  # still locked
    back_in_time(16)
    assert login("carol-password-1").returncode == 0
    assert (tmp_path / "cfg").exists()
