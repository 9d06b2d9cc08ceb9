"""A user who can see an app but whose role does not allow an action (a
Reader) is told so, with the role that would: the SSH page and socket, and
every action of the app's menu. A user with no access at all still gets 404,
so an app's name does not leak."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.access import services
from apps.access.models import Role, RoleAssignment
from apps.audit.models import AuditEvent
from apps.console import services as console
from apps.console.services import Target
from apps.webapps.models import AppSetting, WebApp
from tests.console_helpers import ORIGIN, connect_until_closed, session_headers

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

A = "/apps/hello-flask"
SSH_NEEDS = "Opening an SSH session requires the Contributor or Owner role on hello-flask"


@pytest.fixture
def app(alice) -> WebApp:
    app = WebApp.objects.create(name="hello-flask", owner=alice, state=WebApp.State.STOPPED)
    AppSetting.objects.create(app=app, name="SECRET_KEY", value="s3cret-value")
    return app


@pytest.fixture
def reader(app) -> User:
    user = User.objects.create_user("rita")
    RoleAssignment.objects.create(role=Role.READER, user=user, app=app)
    return user


@pytest.fixture
def no_engine(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    with (
        mock.patch("apps.console.services.find_target", return_value=Target("berth-x-1")) as t,
        mock.patch("apps.deployments.tasks.enqueue") as enqueue,
        mock.patch("apps.lifecycle.operations.restart_app") as restart,
        mock.patch("apps.lifecycle.operations.stop_app") as stop,
    ):
        yield mock.Mock(find_target=t, enqueue=enqueue, restart=restart, stop=stop)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the message ---------------------------------------------------------------------


def test_the_refusal_names_the_role_held_and_the_roles_that_would_do(reader, app):
    assert services.refusal(reader, app, "write", "Opening an SSH session") == (
        "Your role on hello-flask is Reader. Opening an SSH session requires the "
        "Contributor or Owner role on hello-flask: ask an Owner of hello-flask to grant it "
        "(Access control)."
    )
    assert "requires the Owner role" in services.refusal(reader, app, "manage_access")
    assert "Seeing secret values" in services.refusal(reader, app, "read_secrets")


def test_roles_allowed_lists_the_lowest_first():
    assert services.roles_allowed("read") == [Role.READER, Role.CONTRIBUTOR, Role.OWNER]
    assert services.roles_allowed("write") == [Role.CONTRIBUTOR, Role.OWNER]
    assert services.roles_allowed("manage_access") == [Role.OWNER]


# --- the SSH page ----------------------------------------------------------------------


def test_a_reader_gets_a_403_ssh_page_that_says_which_role_opens_it(reader, app, no_engine):
    r = _client(reader).get(f"{A}/ssh/")
    assert r.status_code == 403
    body = r.content.decode()
    assert "Your role on hello-flask is Reader." in body
    assert SSH_NEEDS in body
    assert 'id="ssh-forbidden"' in body
    assert 'id="terminal"' not in body and "data-ws-path" not in body
    # Still the app's page: its menu, so the reader can go elsewhere.
    assert 'aria-label="hello-flask menu"' in body
    no_engine.find_target.assert_not_called()


def test_a_user_without_access_still_gets_404_for_the_ssh_page(bob, app, no_engine):
    client = _client(bob)
    hidden = client.get(f"{A}/ssh/")
    missing = client.get("/apps/no-such-app/ssh/")
    assert hidden.status_code == missing.status_code == 404
    assert "hello-flask" not in hidden.content.decode()
    no_engine.find_target.assert_not_called()


def test_a_contributor_gets_the_terminal(app, no_engine):
    carl = User.objects.create_user("carl")
    RoleAssignment.objects.create(role=Role.CONTRIBUTOR, user=carl, app=app)
    r = _client(carl).get(f"{A}/ssh/")
    assert r.status_code == 200
    assert 'id="terminal"' in r.content.decode()


# --- the SSH socket ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_socket_refuses_a_reader_with_the_reason(client, reader, app):
    with mock.patch("apps.engine.client.exec_tty") as exec_tty:
        close, text = connect_until_closed(app.name, session_headers(client, reader))
    assert close["code"] == console.CLOSE_FORBIDDEN
    assert close["reason"] == "Your role on hello-flask is Reader: SSH needs Contributor or Owner."
    assert SSH_NEEDS in text
    exec_tty.assert_not_called()
    assert not AuditEvent.objects.filter(action="ssh.open").exists()


@pytest.mark.django_db(transaction=True)
def test_the_socket_says_the_same_for_no_access_and_no_such_app(client, bob, app):
    headers = session_headers(client, bob)
    with mock.patch("apps.engine.client.exec_tty") as exec_tty:
        hidden, hidden_text = connect_until_closed(app.name, headers)
        missing, _ = connect_until_closed("no-such-app", headers)
        anonymous, _ = connect_until_closed(app.name, [ORIGIN])
    assert hidden["code"] == missing["code"] == anonymous["code"] == console.CLOSE_FORBIDDEN
    assert hidden["reason"] == console.no_such_app("hello-flask").reason
    assert missing["reason"] == console.no_such_app("no-such-app").reason
    assert anonymous["reason"] == hidden["reason"]
    assert "Reader" not in hidden_text and "role" not in hidden["reason"]
    exec_tty.assert_not_called()


def test_close_reasons_fit_in_a_close_frame(reader):
    long_name = "a" * 60
    app = WebApp.objects.create(name=long_name, owner=User.objects.create_user("o"))
    RoleAssignment.objects.create(role=Role.READER, user=reader, app=app)
    assert len(console.app_for_user(reader, long_name).reason.encode()) <= 123


# --- the other actions of the app's menu ---------------------------------------------------

# (method, path, data, what the message names)
ACTIONS = [
    ("post", f"{A}/configuration/", {"op": "save"}, "Changing the app"),
    ("post", f"{A}/configuration/general/", {}, "Changing the app"),
    ("post", f"{A}/configuration/advanced/appsettings/", {"text": "[]"}, "Changing the app"),
    ("get", f"{A}/configuration/advanced/appsettings/", None, "Seeing secret values"),
    ("post", f"{A}/power/restart/", {"confirmed": "1"}, "Changing the app"),
    ("post", f"{A}/power/stop/", {"confirmed": "1"}, "Changing the app"),
    ("post", f"{A}/deployment-center/upload", {}, "Changing the app"),
    ("post", f"{A}/deployment-center/credentials/reset", {"confirm": "1"}, "Changing the app"),
    ("get", f"{A}/deployment-center/?show=password", None, "Seeing secret values"),
    ("post", f"{A}/diagnose/no-such-detector/fix/", {"confirm": "yes"}, "Changing the app"),
    ("post", f"{A}/access/add", {"role": "Owner"}, "Managing access"),
    ("get", f"{A}/delete/", None, "Deleting the app requires the Owner role"),
    ("post", f"{A}/delete/", {"name": "hello-flask"}, "Deleting the app requires the Owner role"),
]


def _send(client: Client, method: str, path: str, data):
    return client.get(path) if method == "get" else client.post(path, data)


@pytest.mark.parametrize(("method", "path", "data", "what"), ACTIONS)
def test_a_reader_is_told_why_an_action_is_refused(
    reader, app, no_engine, method, path, data, what
):
    r = _send(_client(reader), method, path, data)
    assert r.status_code == 403
    body = r.content.decode()
    assert 'id="forbidden-reason"' in body
    assert "Your role on hello-flask is Reader." in body
    assert what in body
    # A way back, and where to see who could grant the role.
    assert f'href="{A}/"' in body and f'href="{A}/access/"' in body
    assert "s3cret-value" not in body


@pytest.mark.parametrize(("method", "path", "data", "what"), ACTIONS)
def test_a_user_without_access_gets_404_for_every_action(
    bob, app, no_engine, method, path, data, what
):
    r = _send(_client(bob), method, path, data)
    assert r.status_code == 404
    assert "Your role" not in r.content.decode()


def test_nothing_changes_for_a_refused_reader(reader, app, no_engine):
    client = _client(reader)
    for method, path, data, _ in ACTIONS:
        if method == "post":
            client.post(path, data)
    app.refresh_from_db()
    assert app.state == WebApp.State.STOPPED
    assert list(app.app_settings.values_list("name", flat=True)) == ["SECRET_KEY"]
    # Only the creator's own grant: the reader granted themselves nothing.
    assert not RoleAssignment.objects.filter(role=Role.OWNER).exclude(user=app.owner).exists()
    no_engine.enqueue.assert_not_called()
    no_engine.restart.assert_not_called()
    no_engine.stop.assert_not_called()


def test_the_api_gives_a_reader_the_same_reason(reader, app):
    from apps.api.models import ApiToken

    _, token = ApiToken.objects.create_for(reader, "t")
    r = Client().patch(
        "/api/apps/hello-flask/appsettings",
        data=json.dumps([{"name": "X", "value": "1"}]),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "AuthorizationFailed"
    assert r.json()["error"]["message"].startswith("Your role on hello-flask is Reader.")
    assert "Contributor or Owner" in r.json()["error"]["message"]


def test_a_reader_sees_a_diagnostics_fix_as_a_note_not_a_button(reader, app, tmp_path):
    import zipfile

    from apps.deployments.models import Deployment

    artifact = tmp_path / "code.zip"
    with zipfile.ZipFile(artifact, "w") as zf:
        zf.writestr("website/hello.py", "from flask import Flask\nmyapp = Flask(__name__)\n")
        zf.writestr("requirements.txt", "")
    Deployment.objects.create(
        app=app,
        status="success",
        active=True,
        log="12:00:01 Detected: default (no app found: serving the default site)\n",
        artifact=str(artifact),
    )
    with mock.patch("apps.diagnostics.evidence._containers", lambda app, secrets, tail: ([], "")):
        body = _client(reader).get(f"{A}/diagnose/").content.decode()
    assert f"{A}/diagnose/default_site/fix/" not in body
    assert "Your role on hello-flask is Reader:" in body
    assert "needs Contributor or Owner" in body
