# The fixtures come from tests.apiutil; test arguments naming them are not redefinitions.
# ruff: noqa: F811
"""`az webapp deployment list-publishing-credentials` and `az webapp
deployment source config-local-git` through the API."""

from __future__ import annotations

import pytest

from apps.access.models import Role, RoleAssignment
from apps.audit.models import AuditEvent
from apps.webapps.models import WebApp
from tests.apiutil import alice_token, api, bob_api, error_code  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def app(api, settings, tmp_path) -> WebApp:
    settings.DATA_DIR = tmp_path
    api.put("/api/apps/hello", {"resourceGroup": "demo"})
    return WebApp.objects.get(name="hello")


def test_it_lists_the_credentials_with_the_password_hidden(api, app):
    r = api.get("/api/apps/hello/publishingcredentials")
    assert r.status_code == 200
    assert r["Cache-Control"] == "no-store"
    body = r.json()
    assert body == {
        "id": "/subscriptions/berth/resourceGroups/demo/providers/Microsoft.Web/sites/hello"
        "/publishingcredentials/$hello",
        "name": "hello",
        "type": "Microsoft.Web/sites/publishingcredentials",
        "kind": None,
        "location": "berth",
        "resourceGroup": "demo",
        "publishingUserName": "$hello",
        "publishingPassword": None,
        "publishingPasswordHash": None,
        "publishingPasswordHashSalt": None,
        "scmUri": "http://$hello@testserver",
    }
    assert app.publishing_password not in r.content.decode()
    # Reading the user name is no secret: nothing in the Activity log.
    assert not AuditEvent.objects.filter(action="publishingcredentials.list").exists()


def test_it_shows_the_password_when_asked_and_records_it(api, app, alice):
    r = api.get("/api/apps/hello/publishingcredentials?showValues=true")
    assert r.status_code == 200
    body = r.json()
    assert body["publishingPassword"] == app.publishing_password
    assert body["scmUri"] == f"http://$hello:{app.publishing_password}@testserver"
    event = AuditEvent.objects.get(action=AuditEvent.Action.CREDENTIALS_LIST)
    assert event.actor == alice and event.app == app
    assert app.publishing_password not in event.summary


def test_a_reader_sees_the_user_but_not_the_password(bob_api, bob, app):
    RoleAssignment.objects.create(app=app, user=bob, role=Role.READER)
    assert bob_api.get("/api/apps/hello/publishingcredentials").status_code == 200
    r = bob_api.get("/api/apps/hello/publishingcredentials?showValues=true")
    assert r.status_code == 403 and error_code(r) == "AuthorizationFailed"
    assert "Contributor" in r.json()["error"]["message"]
    assert not AuditEvent.objects.filter(action="publishingcredentials.list").exists()


def test_a_stranger_is_told_the_app_is_not_found(bob_api, app):
    r = bob_api.get("/api/apps/hello/publishingcredentials")
    assert r.status_code == 404 and error_code(r) == "ResourceNotFound"


def test_the_resource_group_narrows_the_lookup(api, app):
    r = api.get("/api/apps/hello/publishingcredentials?resourceGroup=other")
    assert r.status_code == 404


def test_config_local_git_makes_the_repository_and_answers_the_remote(api, app, tmp_path):
    assert api.get("/api/apps/hello/config").json()["scmType"] == "None"
    r = api.post("/api/apps/hello/localgit")
    assert r.status_code == 200
    assert r.json() == {"url": "http://$hello@testserver/git/hello.git"}
    assert (tmp_path / "repos" / "hello.git" / "HEAD").exists()
    assert api.get("/api/apps/hello/config").json()["scmType"] == "LocalGit"
    # Again: the same answer, the repository untouched.
    assert api.post("/api/apps/hello/localgit").json() == r.json()


def test_config_local_git_needs_write(bob_api, bob, app, tmp_path):
    RoleAssignment.objects.create(app=app, user=bob, role=Role.READER)
    r = bob_api.post("/api/apps/hello/localgit")
    assert r.status_code == 403
    assert not (tmp_path / "repos" / "hello.git").exists()


def test_the_page_records_revealing_the_password_too(client, alice, app):
    client.force_login(alice)
    r = client.get("/apps/hello/deployment-center/credentials")
    assert r.status_code == 200
    assert not AuditEvent.objects.filter(action="publishingcredentials.list").exists()
    r = client.get("/apps/hello/deployment-center/credentials", {"show": "password"})
    assert app.publishing_password in r.content.decode()
    event = AuditEvent.objects.get(action="publishingcredentials.list")
    assert "Deployment Center" in event.summary
