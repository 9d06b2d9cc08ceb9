"""The Overview's Delete and its confirm page (apps/pages/delete.py):
what will go and what stays, the app's name typed to confirm, the list with
a message afterwards, an incomplete delete shown with what to do, roles
(Owner only; 403 with the reason for Contributor and Reader, 404 without
access), CSRF; and the Overview showing a Reader the commands it may not use,
disabled, with the reason. The engine is patched (autospec) and proxy routing
is off: tests/test_app_delete_e2e.py deletes through the page for real."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.access.models import Role, RoleAssignment
from apps.audit.models import AuditEvent
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.engine.errors import EngineUnavailable
from apps.webapps.models import AppSetting, ConnectionString, WebApp

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NAME = "hello-flask"
OVERVIEW = f"/apps/{NAME}/"
URL = f"/apps/{NAME}/delete/"
DOWN = "Cannot reach the Docker engine at unix:///var/run/docker.sock: is it running?"


@pytest.fixture
def fake_engine(settings, tmp_path):
    """An engine with nothing of the app left on it; `down()` makes it unreachable."""
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False
    with (
        mock.patch.object(engine, "find_containers", autospec=True, return_value=[]) as c,
        mock.patch.object(engine, "find_images", autospec=True, return_value=[]) as i,
        mock.patch.object(engine, "find_volumes", autospec=True, return_value=[]) as v,
        mock.patch.object(
            engine, "container_state", autospec=True, side_effect=EngineUnavailable(DOWN)
        ),
    ):
        fake = mock.Mock(find_containers=c, find_images=i, find_volumes=v)

        def down(is_down: bool = True) -> None:
            c.side_effect = EngineUnavailable(DOWN) if is_down else None

        fake.down = down
        yield fake


@pytest.fixture
def app(alice, fake_engine) -> WebApp:
    app = WebApp.objects.create(name=NAME, owner=alice)
    AppSetting.objects.create(app=app, name="SECRET_KEY", value="s3cret-value")
    AppSetting.objects.create(app=app, name="GREETING", value="hi")
    ConnectionString.objects.create(app=app, name="DB", value="postgres://u:pw@db/x")
    Deployment.objects.create(app=app, status="success", active=True, log="build log")
    return app


def _client(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def _grant(role: Role, app: WebApp, username: str) -> User:
    user = User.objects.create_user(username)
    RoleAssignment.objects.create(role=role, user=user, app=app)
    return user


# --- the confirm page ---------------------------------------------------------------


def test_the_overview_leads_an_owner_to_delete(alice, app):
    html = _client(alice).get(OVERVIEW).content.decode()
    assert re.search(rf'<a class="button danger" id="delete" href="{URL}">', html)
    assert 'id="role-note"' not in html


def test_the_confirm_page_says_what_goes_and_what_stays(alice, app):
    r = _client(alice).get(URL)
    assert r.status_code == 200
    html = r.content.decode()
    assert "Are you sure you want to delete hello-flask?" in html
    for what in (
        "Containers",
        "Release images",
        "Logs archive",
        "Deployments history",
        "Git repository",
        "Settings",
    ):
        assert f"<dt>{what}</dt>" in html
    assert "berth/app-hello-flask:*" in html
    assert "1 deployment, with its build log and the zip kept for redeploy" in html
    assert "2 application settings, 1 connection string" in html
    assert "(none was created)" in html
    assert "<strong>Kept:</strong> the audit history" in html
    assert "Type <code>hello-flask</code> to confirm" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "s3cret-value" not in html and "pw@db" not in html
    # Nothing happens on a GET.
    engine.find_containers.assert_not_called()
    assert WebApp.objects.get(name=NAME).state == WebApp.State.RUNNING


def test_a_wrong_name_deletes_nothing_and_says_so(alice, app, fake_engine):
    r = _client(alice).post(URL, {"name": "hello"})
    assert r.status_code == 400
    html = r.content.decode()
    assert 'id="delete-name-error"' in html
    assert "“hello” is not this app&#x27;s name: type hello-flask exactly" in html
    assert "nothing was deleted" in html
    app.refresh_from_db()
    assert app.state == WebApp.State.RUNNING  # not even stopped
    assert Deployment.objects.filter(app=app).exists()
    fake_engine.find_containers.assert_not_called()
    assert not AuditEvent.objects.filter(action="app.delete").exists()


@pytest.mark.parametrize("typed", ["", "   ", "HELLO-FLASK", "hello-flask2"])
def test_anything_but_the_exact_name_is_refused(alice, app, fake_engine, typed):
    r = _client(alice).post(URL, {"name": typed})
    assert r.status_code == 400
    assert 'id="delete-name-error"' in r.content.decode()
    assert WebApp.objects.filter(name=NAME).exists()
    fake_engine.find_containers.assert_not_called()


def test_no_name_at_all_is_refused_too(alice, app, fake_engine):
    r = _client(alice).post(URL, {})
    assert r.status_code == 400
    assert "Type hello-flask to confirm: nothing was deleted." in r.content.decode()
    assert WebApp.objects.filter(name=NAME).exists()


def test_the_right_name_deletes_and_lands_on_the_list_with_a_message(alice, app, fake_engine):
    client = _client(alice)
    r = client.post(URL, {"name": NAME})
    assert r.status_code == 302 and r["Location"] == "/"
    assert not WebApp.objects.filter(name=NAME).exists()
    assert not Deployment.objects.exists() and not AppSetting.objects.exists()
    fake_engine.find_containers.assert_called_once_with({"io.berth.app": NAME})
    # The service's audit event: who did it, kept after the app is gone.
    event = AuditEvent.objects.get(action="app.delete")
    assert (event.actor, event.app, event.app_name) == (alice, None, NAME)
    assert event.before["appSettings"] == ["GREETING", "SECRET_KEY"]
    assert "s3cret-value" not in str(event.before)
    html = client.get("/").content.decode()
    assert "Deleted hello-flask: its containers, release images, logs archive" in html
    assert "Its audit history is kept." in html
    assert client.get(OVERVIEW).status_code == 404


def test_surrounding_spaces_are_forgiven(alice, app):
    r = _client(alice).post(URL, {"name": f"  {NAME} "})
    assert r.status_code == 302
    assert not WebApp.objects.filter(name=NAME).exists()


def test_an_incomplete_delete_says_why_and_that_deleting_again_finishes(alice, app, fake_engine):
    fake_engine.down()
    client = _client(alice)
    r = client.post(URL, {"name": NAME})
    assert r.status_code == 503
    html = r.content.decode()
    assert 'id="delete-failed"' in html
    assert (
        f"hello-flask is stopped but not deleted: {DOWN} Delete it again once the engine answers."
    ) in html
    assert html.count("is stopped but not deleted") == 1
    assert "hello-flask is stopped and stays stopped: nothing starts it again" in html
    assert "Deleting again finishes the job." in html
    assert 'badge badge-stopped" id="app-state"' in html
    assert ">Delete again</button>" in html
    assert 'value="hello-flask"' in html  # kept, for the retry
    app.refresh_from_db()
    assert app.state == WebApp.State.STOPPED
    assert Deployment.objects.filter(app=app).exists()
    assert "did not finish" in AuditEvent.objects.get(action="app.delete").summary

    fake_engine.down(False)
    r = client.post(URL, {"name": NAME})
    assert r.status_code == 302
    assert not WebApp.objects.filter(name=NAME).exists()
    assert AuditEvent.objects.filter(action="app.delete").count() == 2


def test_the_form_needs_the_csrf_token(alice, app):
    client = _client(alice, enforce_csrf_checks=True)
    refused = client.post(URL, {"name": NAME})
    assert refused.status_code == 403
    assert WebApp.objects.filter(name=NAME).exists()
    page = client.get(URL).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    r = client.post(URL, {"name": NAME, "csrfmiddlewaretoken": token})
    assert r.status_code == 302
    assert not WebApp.objects.filter(name=NAME).exists()


def test_other_methods_are_not_allowed(alice, app):
    assert _client(alice).put(URL).status_code == 405
    assert WebApp.objects.filter(name=NAME).exists()


# --- roles ----------------------------------------------------------------------------


def test_an_owner_by_grant_may_delete(app):
    olga = _grant(Role.OWNER, app, "olga")
    assert _client(olga).post(URL, {"name": NAME}).status_code == 302
    assert AuditEvent.objects.get(action="app.delete").actor == olga


@pytest.mark.parametrize("role", [Role.CONTRIBUTOR, Role.READER])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_contributor_or_reader_gets_403_with_the_reason(app, fake_engine, role, method):
    user = _grant(role, app, "someone")
    client = _client(user)
    r = client.get(URL) if method == "get" else client.post(URL, {"name": NAME})
    assert r.status_code == 403
    html = r.content.decode()
    assert 'id="forbidden-reason"' in html
    assert (
        f"Your role on hello-flask is {role.label}. Deleting the app requires the Owner role "
        "on hello-flask: ask an Owner of hello-flask to grant it (Access control)."
    ) in html
    assert f'href="{OVERVIEW}"' in html
    assert WebApp.objects.get(name=NAME).state == WebApp.State.RUNNING
    fake_engine.find_containers.assert_not_called()


@pytest.mark.parametrize("method", ["get", "post"])
def test_no_access_is_404_as_for_no_such_app(bob, app, fake_engine, method):
    client = _client(bob)
    send = client.get if method == "get" else lambda u: client.post(u, {"name": NAME})
    hidden, missing = send(URL), send("/apps/no-such-app/delete/")
    assert hidden.status_code == missing.status_code == 404
    assert "hello-flask" not in hidden.content.decode()
    assert WebApp.objects.filter(name=NAME).exists()
    fake_engine.find_containers.assert_not_called()


def test_anonymous_is_sent_to_sign_in(client, app):
    r = client.post(URL, {"name": NAME})
    assert r.status_code == 302 and r["Location"].startswith("/login/")
    assert WebApp.objects.filter(name=NAME).exists()


# --- what the Overview shows each role ---------------------------------------------------


def test_a_reader_sees_the_commands_disabled_with_the_reason(app):
    rita = _grant(Role.READER, app, "rita")
    html = _client(rita).get(OVERVIEW).content.decode()
    why = "Your role on hello-flask is Reader: Contributor or Owner can"
    # No form reaches power/ or delete/; the buttons are there, disabled.
    assert "/power/" not in html and URL not in html
    for label, verb in (("■ Stop", "stop"), ("↻ Restart", "restart")):
        assert re.search(
            rf'<button type="button" disabled class="power-disabled" aria-describedby="role-note" '
            rf'title="{why} {verb} it.">{label}</button>',
            html,
        ), label
    assert re.search(
        r'<button type="button" id="delete" disabled aria-describedby="role-note"', html
    )
    assert (
        '<p class="help read-only-note" id="role-note">Your role on hello-flask is Reader: '
        "Contributor or Owner can start, stop or restart it, and only an Owner can delete it.</p>"
    ) in html
    # The menu shows SSH, disabled, and says which role opens it.
    assert 'href="/apps/hello-flask/ssh/"' not in html
    assert '<span class="sidebar-disabled" id="ssh-disabled" aria-disabled="true"' in html
    assert "Your role is Reader: Contributor or Owner can open SSH." in html


def test_a_stopped_apps_reader_sees_start_disabled(app):
    WebApp.objects.filter(pk=app.pk).update(state=WebApp.State.STOPPED)
    rita = _grant(Role.READER, app, "rita")
    html = _client(rita).get(OVERVIEW).content.decode()
    assert 'can start it.">▶ Start</button>' in html
    assert "■ Stop" not in html


def test_a_contributor_may_use_the_commands_but_not_delete(app):
    carl = _grant(Role.CONTRIBUTOR, app, "carl")
    html = _client(carl).get(OVERVIEW).content.decode()
    assert "/apps/hello-flask/power/stop/" in html and "/apps/hello-flask/power/restart/" in html
    assert "power-disabled" not in html
    assert URL not in html
    assert (
        'id="role-note">Your role on hello-flask is Contributor: only an Owner can delete it.</p>'
    ) in html
    assert 'href="/apps/hello-flask/ssh/"' in html and "ssh-disabled" not in html


def test_an_owner_sees_no_role_note(alice, app):
    html = _client(alice).get(OVERVIEW).content.decode()
    assert "power-disabled" not in html and "role-note" not in html
    assert 'href="/apps/hello-flask/ssh/"' in html and "ssh-disabled" not in html
