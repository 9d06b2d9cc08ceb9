"""Every surface against every kind of caller: anonymous, a user with no
role, Reader, Contributor, Owner and staff. Each row says which action the
endpoint needs (read / read_secrets / write / manage_access) and the status
an allowed caller gets; the refusals follow from the caller (access_helpers)."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.test import Client

from apps.access.models import Role, RoleAssignment
from apps.console.services import Target
from apps.engine.runtimes import Runtime, Status
from apps.webapps.models import AppSetting, WebApp
from tests.access_helpers import ROLES, expected, make_caller, token_for
from tests.deploy_helpers import zip_files

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

A = "/apps/hello-flask"
API = "/api/apps/hello-flask"

# (method, path, data, action, kind, status for an allowed caller)
PAGES = [
    ("get", f"{A}/", None, "read", "page", 200),
    ("get", f"{A}/configuration/", None, "read", "page", 200),
    ("get", f"{A}/configuration/general/", None, "read", "page", 200),
    ("get", f"{A}/configuration/advanced/appsettings/", None, "read_secrets", "page", 200),
    ("post", f"{A}/configuration/", {"op": "refresh"}, "write", "page", 200),
    ("post", f"{A}/configuration/", {"op": "show-all"}, "write", "page", 200),
    ("post", f"{A}/configuration/general/", {}, "write", "page", 200),
    ("post", f"{A}/configuration/advanced/appsettings/", {"text": "[]"}, "write", "page", 200),
    ("post", f"{A}/power/restart/", {}, "write", "page", 302),
    ("get", f"{A}/deployment-center/", None, "read", "page", 200),
    ("get", f"{A}/deployment-center/?show=password", None, "read_secrets", "page", 200),
    ("get", f"{A}/deployment-center/credentials?show=password", None, "read_secrets", "page", 200),
    ("post", f"{A}/deployment-center/upload", {}, "write", "page", 400),
    ("post", f"{A}/deployment-center/credentials/reset", {}, "write", "page", 200),
    ("get", f"{A}/activity/", None, "read", "page", 200),
    ("get", f"{A}/activity.json", None, "read", "page", 200),
    ("get", f"{A}/access/", None, "read", "page", 200),
    ("post", f"{A}/access/add", {}, "manage_access", "page", 400),
    ("get", f"{A}/logstream/", None, "read", "page", 200),
    ("get", f"{A}/logstream/events", None, "read", "page", 200),
    ("get", f"{A}/logstream/download", None, "read", "page", 200),
    ("get", f"{A}/diagnose/", None, "read", "page", 200),
    ("post", f"{A}/diagnose/no-such-detector/fix/", {}, "write", "page", 302),
    ("get", f"{A}/ssh/", None, "write", "page", 200),
    ("get", f"{A}/delete/", None, "manage_access", "page", 200),
    # A wrong name: refused as a form error, nothing deleted (the right one is in
    # tests/test_app_delete_page.py).
    ("post", f"{A}/delete/", {"name": "wrong"}, "manage_access", "page", 400),
]

SETTING = [{"name": "NEW_SETTING", "value": "1"}]
APIS = [
    ("get", API, None, "read", "api", 200),
    ("get", f"{API}/config", None, "read", "api", 200),
    ("patch", f"{API}/config", {"appCommandLine": "gunicorn app:app"}, "write", "api", 200),
    ("get", f"{API}/appsettings", None, "read", "api", 200),
    ("get", f"{API}/appsettings?showValues=true", None, "read_secrets", "api", 200),
    ("get", f"{API}/connectionstrings?showValues=true", None, "read_secrets", "api", 200),
    ("patch", f"{API}/appsettings", SETTING, "write", "api", 200),
    ("put", f"{API}/appsettings", SETTING, "write", "api", 200),
    ("put", f"{API}/connectionstrings", [], "write", "api", 200),
    ("delete", f"{API}/appsettings?settingNames=SECRET_KEY", None, "write", "api", 200),
    ("post", f"{API}/restart", None, "write", "api", 200),
    ("post", f"{API}/stop", None, "write", "api", 200),
    # A user who cannot see the app is told the name is taken (409), as before.
    ("put", API, {"resourceGroup": "default"}, "write", "api", 200),
    ("get", f"{API}/diagnostics", None, "read", "api", 200),
    ("get", f"{API}/deployments/", None, "read", "kudu", 200),
    ("get", "/git/hello-flask.git/info/refs?service=git-upload-pack", None, "read", "kudu", 200),
    ("get", "/git/hello-flask.git/info/refs?service=git-receive-pack", None, "write", "kudu", 200),
]
# Zip deploy needs a zip body; app delete goes last (it removes the app).
ZIPDEPLOY = (f"{API}/zipdeploy?isAsync=true", "write", "kudu", 202)
DELETE = (API, "manage_access", "api", 204)

CATALOG = [Runtime("3.11", Status.READY)]


@pytest.fixture(autouse=True)
def no_engine(settings, tmp_path):
    """Fast tests: nothing reaches the engine, a worker or a build."""
    settings.DATA_DIR = tmp_path

    async def events(app, last_event_id=""):
        yield "data: hello\n\n"

    with (
        mock.patch("apps.engine.runtimes.catalog", return_value=CATALOG),
        mock.patch("apps.diagnostics.evidence._containers", lambda app, secrets, tail: ([], "")),
        mock.patch("apps.logs.services.events", events),
        mock.patch("apps.logs.services.serving_container", return_value=None),
        mock.patch("apps.console.services.find_target", return_value=Target(None, "Stopped.")),
        mock.patch("apps.deployments.tasks.power.delay_on_commit"),
        mock.patch("apps.deployments.tasks.enqueue") as enqueue,
        mock.patch("apps.lifecycle.operations.restart_app", return_value=None),
        mock.patch("apps.lifecycle.operations.stop_app", return_value=None),
    ):
        yield enqueue


@pytest.fixture
def app(alice) -> WebApp:
    # Stopped: saved settings need no restart.
    app = WebApp.objects.create(name="hello-flask", owner=alice, state=WebApp.State.STOPPED)
    AppSetting.objects.create(app=app, name="SECRET_KEY", value="s3cret-value")
    return app


def _page_client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _api_headers(user) -> dict:
    token = token_for(user)
    return {"Authorization": f"Bearer {token}"} if token else {}


@pytest.mark.parametrize("role", ROLES)
def test_every_page_answers_each_role_as_its_actions_allow(role, app):
    user = make_caller(role, app)
    client = _page_client(user)
    got = {}
    for method, path, data, action, kind, ok in PAGES:
        response = getattr(client, method)(path, data) if data is not None else client.get(path)
        got[(method, path, str(data))] = (response.status_code, expected(role, action, kind, ok))
    wrong = {k: v for k, v in got.items() if v[0] != v[1]}
    assert not wrong, f"{role}: (got, expected) {wrong}"


@pytest.mark.parametrize("role", ROLES)
def test_every_api_endpoint_answers_each_role_as_its_actions_allow(role, app):
    user = make_caller(role, app)
    client = Client()
    headers = _api_headers(user)
    got = {}
    for method, path, body, action, kind, ok in APIS:
        kwargs = {"headers": headers}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        response = getattr(client, method)(path, **kwargs)
        want = expected(role, action, kind, ok)
        if method == "put" and path == API and role == "nobody":
            want = 409
        got[(method, path)] = (response.status_code, want)
    path, action, kind, ok = ZIPDEPLOY
    response = client.post(
        path,
        data=zip_files({"app.py": "app = None\n"}),
        content_type="application/zip",
        headers=headers,
    )
    got[("post", path)] = (response.status_code, expected(role, action, kind, ok))
    path, action, kind, ok = DELETE
    got[("delete", path)] = (
        client.delete(path, headers=headers).status_code,
        expected(role, action, kind, ok),
    )
    wrong = {k: v for k, v in got.items() if v[0] != v[1]}
    assert not wrong, f"{role}: (got, expected) {wrong}"


@pytest.mark.parametrize("role", ROLES)
def test_secrets_reach_only_the_roles_that_may_read_them(role, app):
    user = make_caller(role, app)
    response = Client().get(f"{API}/appsettings?showValues=true", headers=_api_headers(user))
    revealed = "s3cret-value" in response.content.decode()
    assert revealed == (role in ("contributor", "owner", "staff"))
    page = _page_client(user).get(f"{A}/configuration/advanced/appsettings/")
    assert ("s3cret-value" in page.content.decode()) == revealed


def test_nothing_changed_for_a_reader(app):
    reader = make_caller("reader", app)
    client = Client()
    headers = _api_headers(reader)
    client.patch(
        f"{API}/appsettings",
        data=json.dumps(SETTING),
        content_type="application/json",
        headers=headers,
    )
    client.delete(f"{API}/appsettings?settingNames=SECRET_KEY", headers=headers)
    client.delete(API, headers=headers)
    assert list(app.app_settings.values_list("name", flat=True)) == ["SECRET_KEY"]
    assert WebApp.objects.filter(pk=app.pk).exists()


def test_publishing_credentials_still_deploy(client, app, no_engine):
    import base64

    token = base64.b64encode(f"{app.publishing_username}:{app.publishing_password}".encode())
    response = client.post(
        f"{API}/zipdeploy?isAsync=true",
        data=zip_files({"app.py": "app = None\n"}),
        content_type="application/zip",
        HTTP_AUTHORIZATION=f"Basic {token.decode()}",
    )
    assert response.status_code == 202
    assert no_engine.called


def test_a_group_grant_opens_the_same_surfaces(app):
    from django.contrib.auth.models import Group, User

    team = Group.objects.create(name="team")
    carol = User.objects.create_user("carol")
    carol.groups.add(team)
    RoleAssignment.objects.create(role=Role.CONTRIBUTOR, group=team, app=app)
    client = _page_client(carol)
    assert client.get(f"{A}/configuration/").status_code == 200
    assert client.post(f"{A}/power/restart/").status_code == 302
    assert client.post(f"{A}/access/add").status_code == 403
    headers = _api_headers(carol)
    assert Client().post(f"{API}/restart", headers=headers).status_code == 200


def test_a_resource_group_grant_covers_every_app_in_it(app, alice):
    from django.contrib.auth.models import User

    WebApp.objects.create(name="other-app", owner=alice, resource_group="Shop")
    app.resource_group = "shop"
    app.save()
    dave = User.objects.create_user("dave")
    RoleAssignment.objects.create(role=Role.READER, user=dave, resource_group="SHOP")
    client = _page_client(dave)
    assert client.get(f"{A}/").status_code == 200
    assert client.get("/apps/other-app/").status_code == 200
    assert client.post(f"{A}/power/restart/").status_code == 403
    headers = _api_headers(dave)
    assert {a["name"] for a in Client().get("/api/apps", headers=headers).json()} == {
        "hello-flask",
        "other-app",
    }


def test_revoking_removes_access(app):
    reader = make_caller("reader", app)
    client = _page_client(reader)
    headers = _api_headers(reader)
    assert client.get(f"{A}/").status_code == 200
    RoleAssignment.objects.filter(user=reader).delete()
    assert client.get(f"{A}/").status_code == 404
    assert Client().get(API, headers=headers).status_code == 404
    git = "/git/hello-flask.git/info/refs?service=git-upload-pack"
    assert Client().get(git, headers=headers).status_code == 401
