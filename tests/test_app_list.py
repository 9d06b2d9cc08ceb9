from __future__ import annotations

import pytest

from apps.webapps.models import WebApp

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_it_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_lists_only_the_users_own_apps(alice_client, webapp, bob):
    WebApp.objects.create(name="bobs-app", owner=bob)
    response = alice_client.get("/")
    assert b"hello-flask" in response.content
    assert b"bobs-app" not in response.content


def test_staff_see_every_app(client, admin_user, webapp):
    client.force_login(admin_user)
    assert b"hello-flask" in client.get("/").content


def test_it_filters_by_name_and_returns_the_table_partial_to_htmx(alice_client, alice, webapp):
    WebApp.objects.create(name="other", owner=alice)
    response = alice_client.get("/?q=flask", headers={"HX-Request": "true"})
    assert b"hello-flask" in response.content
    assert b"other" not in response.content
    assert b"<html" not in response.content
    assert "HX-Request" in response["Vary"]


def test_it_creates_an_app(alice_client, alice):
    response = alice_client.post(
        "/apps/new/", {"name": "my-api", "resource_group": "rg1", "linux_fx_version": "PYTHON|3.13"}
    )
    assert response.status_code == 302
    app = WebApp.objects.get(name="my-api")
    assert (app.owner, app.linux_fx_version, app.resource_group) == (alice, "PYTHON|3.13", "rg1")


def test_it_shows_name_errors_at_the_field(alice_client, webapp):
    response = alice_client.post(
        "/apps/new/",
        {"name": "hello-flask", "resource_group": "rg", "linux_fx_version": "PYTHON|3.11"},
    )
    assert response.status_code == 200
    assert b"already exists" in response.content
    response = alice_client.post(
        "/apps/new/",
        {"name": "Bad_Name", "resource_group": "rg", "linux_fx_version": "PYTHON|3.11"},
    )
    assert b"lowercase" in response.content


def test_it_hides_other_users_apps(alice_client, bob):
    WebApp.objects.create(name="bobs-app", owner=bob)
    assert alice_client.get("/apps/bobs-app/").status_code == 404
