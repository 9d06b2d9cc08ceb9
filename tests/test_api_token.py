# The fixtures come from tests.apiutil; test arguments naming them are not redefinitions.
# ruff: noqa: F811
from __future__ import annotations

import pytest

from apps.api.models import ApiToken, hash_token
from tests.apiutil import ApiClient, alice_token, api, error_code  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_it_exchanges_a_password_for_a_token(alice):
    r = ApiClient().post("/api/token", {"username": "alice", "password": "alice-password-1"})
    assert r.status_code == 201
    token = r.json()["token"]
    assert token.startswith("berth_")
    assert r.json()["user"] == "alice"
    # Only the hash is stored.
    row = ApiToken.objects.get(user=alice)
    assert row.token_hash == hash_token(token)
    assert token not in row.token_hash


def test_it_rejects_a_wrong_password(alice):
    r = ApiClient().post("/api/token", {"username": "alice", "password": "nope"})
    assert r.status_code == 401
    assert error_code(r) == "InvalidCredentials"
    assert not ApiToken.objects.exists()


def test_it_rejects_inactive_users(alice):
    alice.is_active = False
    alice.save()
    r = ApiClient().post("/api/token", {"username": "alice", "password": "alice-password-1"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    "body, status",
    [
        ("not json", 400),
        ([1, 2], 400),
        ({"username": "alice"}, 422),
        ({"username": 1, "password": "x"}, 422),
        ({"username": "a", "password": "b", "extra": 1}, 422),
    ],
)
def test_it_rejects_malformed_bodies(alice, body, status):
    client = ApiClient()
    if isinstance(body, str):
        r = client.client.post("/api/token", body, content_type="application/json")
    else:
        r = client.post("/api/token", body)
    assert r.status_code == status
    assert r.json()["error"]["message"]


def test_it_authenticates_with_the_token_and_records_last_use(api, alice):
    r = api.get("/api/apps")
    assert r.status_code == 200
    assert ApiToken.objects.get(user=alice).last_used is not None


def test_it_asks_for_a_token(db):
    r = ApiClient().get("/api/apps")
    assert r.status_code == 401
    assert r["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in r.json()["error"]["message"]


def test_it_rejects_an_unknown_token(db):
    assert ApiClient("berth_not-a-token").get("/api/apps").status_code == 401


def test_it_revokes_the_token_it_is_called_with(api, alice):
    assert api.delete("/api/token").status_code == 204
    assert not ApiToken.objects.filter(user=alice).exists()
    assert api.get("/api/apps").status_code == 401


def test_it_does_not_need_csrf(alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    r = client.post(
        "/api/token",
        '{"username": "alice", "password": "alice-password-1"}',
        content_type="application/json",
    )
    assert r.status_code == 201


def test_user_from_request_reads_the_bearer_header(alice, alice_token, rf):
    from apps.api.auth import user_from_request

    assert user_from_request(rf.get("/", HTTP_AUTHORIZATION=f"Bearer {alice_token}")) == alice
    assert user_from_request(rf.get("/", HTTP_AUTHORIZATION=f"bearer  {alice_token} ")) == alice
    assert user_from_request(rf.get("/", HTTP_AUTHORIZATION="Basic abc")) is None
    assert user_from_request(rf.get("/")) is None


def test_a_session_does_not_stand_in_for_a_bad_token(alice, client):
    """The API takes no CSRF token, so it never takes the session's user."""
    client.force_login(alice)
    assert client.get("/api/apps").status_code == 401
    r = client.get("/api/apps", headers={"Authorization": "Bearer berth_not-a-token"})
    assert r.status_code == 401


def test_a_user_set_from_the_token_by_a_middleware_is_taken(alice, rf):
    from apps.api.http import BearerAuth

    request = rf.get("/api/apps", headers={"Authorization": "Bearer set-by-middleware"})
    request.user = alice
    assert BearerAuth()(request) == alice
