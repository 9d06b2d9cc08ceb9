"""The SSH page: who may open it, and what it shows when the app runs or not."""

from __future__ import annotations

from unittest import mock

import pytest

from apps.console import services
from apps.engine.client import ContainerState
from apps.engine.errors import EngineUnavailable
from apps.webapps.models import WebApp

pytestmark = [pytest.mark.postgres]

URL = "/apps/hello-flask/ssh/"


def exited(name: str, code: int, oom: bool = False) -> ContainerState:
    return ContainerState(
        name=name,
        status="exited",
        exit_code=code,
        oom_killed=oom,
        restart_count=0,
        started_at="2025-01-01T10:00:00Z",
        finished_at="2025-01-01T10:05:00.123Z",
        error="",
        created="2025-01-01T10:00:00Z",
        labels={},
    )


@pytest.fixture
def running():
    with mock.patch(
        "apps.engine.client.find_app_container", autospec=True, return_value="berth-hello-flask-7"
    ) as found:
        yield found


def test_it_shows_a_terminal_for_a_running_app(alice_client, webapp, running):
    r = alice_client.get(URL)
    assert r.status_code == 200
    body = r.content.decode()
    assert 'id="terminal"' in body
    assert 'data-ws-path="/apps/hello-flask/ssh/ws"' in body
    assert "vendor/xterm/xterm.js" in body and "js/console.js" in body
    assert "berth-hello-flask-7" in body
    running.assert_called_once_with("hello-flask")


def test_it_requires_login(client, webapp, running):
    r = client.get(URL)
    assert r.status_code == 302
    assert "/login/" in r["Location"]


def test_it_hides_the_app_from_users_without_access(client, bob, webapp, running):
    client.force_login(bob)
    assert client.get(URL).status_code == 404
    assert client.get("/apps/no-such-app/ssh/").status_code == 404
    running.assert_not_called()


def test_it_lets_staff_in(client, admin_user, webapp, running):
    client.force_login(admin_user)
    assert client.get(URL).status_code == 200


def test_it_rejects_post(alice_client, webapp, running):
    assert alice_client.post(URL).status_code == 405


def test_it_says_why_a_crashed_app_has_no_terminal(alice_client, webapp):
    with (
        mock.patch("apps.engine.client.find_app_container", return_value=None),
        mock.patch("apps.engine.client.find_containers", return_value=["berth-hello-flask-7"]),
        mock.patch(
            "apps.engine.client.container_state",
            return_value=exited("berth-hello-flask-7", 137, oom=True),
        ),
    ):
        body = alice_client.get(URL).content.decode()
    assert 'id="terminal"' not in body
    assert (
        "its container berth-hello-flask-7 exited with code 137 (killed: out of memory) "
        "at 2025-01-01 10:05:00 UTC"
    ) in body
    assert "Log stream" in body


def test_it_says_a_stopped_app_is_stopped(alice_client, webapp):
    WebApp.objects.filter(pk=webapp.pk).update(state=WebApp.State.STOPPED)
    with mock.patch("apps.engine.client.find_app_container", return_value=None):
        body = alice_client.get(URL).content.decode()
    assert "hello-flask is stopped: start it" in body
    assert 'id="terminal"' not in body


def test_it_says_an_undeployed_app_needs_a_deployment(alice_client, webapp):
    with (
        mock.patch("apps.engine.client.find_app_container", return_value=None),
        mock.patch("apps.engine.client.find_containers", return_value=[]),
    ):
        body = alice_client.get(URL).content.decode()
    assert "has not been deployed yet" in body


def test_it_says_when_the_engine_is_down(alice_client, webapp):
    with mock.patch(
        "apps.engine.client.find_app_container",
        side_effect=EngineUnavailable("the Docker engine is not reachable at unix:///x"),
    ):
        body = alice_client.get(URL).content.decode()
    assert "Cannot reach the Docker engine" in body
    assert 'id="terminal"' not in body


def test_it_links_ssh_from_the_app_menu(alice_client, webapp):
    body = alice_client.get("/apps/hello-flask/").content.decode()
    assert 'href="/apps/hello-flask/ssh/"' in body


def test_can_manage_is_owner_or_staff(alice, bob, admin_user, webapp):
    assert services.can_manage(alice, webapp)
    assert services.can_manage(admin_user, webapp)
    assert not services.can_manage(bob, webapp)
