"""The SSH WebSocket's protocol without an engine: the container's TTY is one
end of a socket pair, the test plays the shell on the other end."""

from __future__ import annotations

import asyncio
import json
import socket
from unittest import mock

import pytest
from asgiref.sync import async_to_sync

from apps.api.models import ApiToken
from apps.audit.models import AuditEvent
from apps.console import services
from apps.engine.client import TtyStream
from apps.engine.errors import EngineError
from apps.webapps.models import WebApp
from tests.console_helpers import (
    ORIGIN,
    communicator,
    connect_until_closed,
    read_close,
    read_until,
    session_headers,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def app(alice) -> WebApp:
    return WebApp.objects.create(name="hello-flask", owner=alice)


class FakeEngine:
    """exec_tty hands out one end of a socket pair; `shell` is the other."""

    def __init__(self) -> None:
        self.ours, self.shell = socket.socketpair()
        self.shell.settimeout(5)
        self.resizes: list[tuple[str, int, int]] = []
        self.hung_up: list[list[str]] = []
        self.exec_tty = mock.Mock(side_effect=self._exec_tty)

    def _exec_tty(self, container, cmd, env=None, workdir=""):
        self.env = env
        return TtyStream("exec-1", self.ours)

    def read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            data += self.shell.recv(size - len(data))
        return data


@pytest.fixture
def fake_engine():
    fake = FakeEngine()
    with (
        mock.patch("apps.engine.client.find_app_container", return_value="berth-hello-flask-7"),
        mock.patch("apps.engine.client.exec_tty", fake.exec_tty),
        mock.patch(
            "apps.engine.client.exec_resize",
            side_effect=lambda exec_id, rows, cols: fake.resizes.append((exec_id, rows, cols)),
        ),
        mock.patch("apps.engine.client.exec_exit_code", return_value=0),
        mock.patch(
            "apps.engine.client.container_state",
            return_value=mock.Mock(status="running"),
        ),
        mock.patch(
            "apps.engine.client.exec_quick",
            side_effect=lambda container, cmd: fake.hung_up.append(cmd) or (0, ""),
        ),
    ):
        yield fake
    fake.shell.close()


def test_it_opens_a_shell_and_passes_bytes_both_ways(client, alice, app, fake_engine):
    headers = session_headers(client, alice)

    async def scenario():
        comm = communicator(app.name, headers)
        connected, _ = await comm.connect(timeout=10)
        assert connected
        assert "SSH CONNECTION ESTABLISHED" in await read_until(comm, "ESTABLISHED")
        # Keystrokes, Ctrl-C included, reach the TTY untouched.
        await comm.send_to(bytes_data=b"ls\r\x03")
        assert await asyncio.to_thread(fake_engine.read, 4) == b"ls\r\x03"
        # A non-JSON text frame is typed too.
        await comm.send_to(text_data="é\r")
        assert await asyncio.to_thread(fake_engine.read, 3) == "é\r".encode()
        # Output split inside a multibyte character arrives whole.
        data = "naïve ☃ done".encode()
        cut = data.index("☃".encode()) + 1
        fake_engine.shell.sendall(data[:cut])
        await asyncio.sleep(0.1)
        fake_engine.shell.sendall(data[cut:])
        assert "naïve ☃ done" in await read_until(comm, "done")
        await comm.disconnect(timeout=10)

    async_to_sync(scenario)()
    assert fake_engine.env["TERM"] == "xterm-256color"
    assert fake_engine.hung_up, "the shell must be hung up when the browser leaves"


def test_it_resizes_the_tty(client, alice, app, fake_engine):
    headers = session_headers(client, alice)

    async def scenario():
        comm = communicator(app.name, headers)
        await comm.connect(timeout=10)
        await read_until(comm, "ESTABLISHED")
        await comm.send_to(text_data=json.dumps({"type": "resize", "rows": 40, "cols": 132}))
        await comm.send_to(text_data=json.dumps({"type": "resize", "rows": "x"}))  # ignored
        for _ in range(50):
            if ("exec-1", 40, 132) in fake_engine.resizes:
                break
            await asyncio.sleep(0.05)
        await comm.disconnect(timeout=10)

    async_to_sync(scenario)()
    assert ("exec-1", 40, 132) in fake_engine.resizes


def test_it_records_the_session_with_its_duration(client, alice, app, fake_engine):
    headers = session_headers(client, alice)

    async def scenario():
        comm = communicator(app.name, headers)
        await comm.connect(timeout=10)
        await read_until(comm, "ESTABLISHED")
        await comm.disconnect(timeout=10)

    async_to_sync(scenario)()
    opened = AuditEvent.objects.get(action=services.ACTION_OPEN)
    closed = AuditEvent.objects.get(action=services.ACTION_CLOSE)
    assert (opened.actor, opened.app_name) == (alice, "hello-flask")
    assert closed.actor == alice
    assert closed.after["duration_seconds"] >= 0
    assert closed.after["started"] and closed.after["ended"]
    assert "after 0 s" in closed.summary or "after 1 s" in closed.summary


def test_it_says_when_the_shell_ends(client, alice, app, fake_engine):
    headers = session_headers(client, alice)

    async def scenario():
        comm = communicator(app.name, headers)
        await comm.connect(timeout=10)
        await read_until(comm, "ESTABLISHED")
        fake_engine.shell.sendall(b"logout\r\n")
        fake_engine.shell.close()  # the shell exits
        return await read_close(comm)

    close, text = async_to_sync(scenario)()
    assert close["code"] == services.CLOSE_NORMAL
    assert "The shell ended" in text


def test_it_closes_idle_sessions(client, alice, app, fake_engine, settings):
    settings.BERTH_SSH_IDLE_TIMEOUT = 1

    headers = session_headers(client, alice)

    async def scenario():
        comm = communicator(app.name, headers)
        await comm.connect(timeout=10)
        return await read_close(comm, timeout=10)

    close, text = async_to_sync(scenario)()
    assert close["code"] == services.CLOSE_IDLE
    assert "without activity" in text and "without activity" in close["reason"]
    assert fake_engine.hung_up
    assert AuditEvent.objects.filter(action=services.ACTION_CLOSE).count() == 1


def test_it_refuses_a_user_without_access_before_any_exec(client, bob, app, fake_engine):
    headers = session_headers(client, bob)

    async def scenario():
        comm = communicator(app.name, headers)
        connected, _ = await comm.connect(timeout=10)
        assert connected  # accepted, so the close frame can say why
        return await read_close(comm)

    close, _ = async_to_sync(scenario)()
    assert close["code"] == services.CLOSE_FORBIDDEN
    fake_engine.exec_tty.assert_not_called()
    assert not AuditEvent.objects.exists()


def test_it_refuses_anonymous_users_and_unknown_apps(client, alice, app, fake_engine):
    assert connect_until_closed(app.name, [ORIGIN])[0]["code"] == services.CLOSE_FORBIDDEN
    headers = session_headers(client, alice)
    assert connect_until_closed("no-such-app", headers)[0]["code"] == services.CLOSE_FORBIDDEN
    fake_engine.exec_tty.assert_not_called()


def test_it_rejects_another_sites_origin(client, alice, app, fake_engine):
    headers = [(b"origin", b"http://evil.example"), *session_headers(client, alice)[1:]]

    async def scenario():
        comm = communicator(app.name, headers)
        connected, _ = await comm.connect(timeout=10)
        return connected

    assert async_to_sync(scenario)() is False
    fake_engine.exec_tty.assert_not_called()


def test_it_accepts_an_api_token(alice, app, fake_engine):
    _, token = ApiToken.objects.create_for(alice, "cli")

    async def scenario(value):
        comm = communicator(app.name, [ORIGIN, (b"authorization", f"Bearer {value}".encode())])
        await comm.connect(timeout=10)
        text = await read_until(comm, "ESTABLISHED")
        await comm.disconnect(timeout=10)
        return text

    assert "SSH CONNECTION ESTABLISHED" in async_to_sync(scenario)(token)
    with pytest.raises(AssertionError, match="4403"):
        async_to_sync(scenario)("berth_not-a-token")


def test_it_says_the_app_is_not_running_over_the_socket(client, alice, app, fake_engine):
    headers = session_headers(client, alice)
    with (
        mock.patch("apps.engine.client.find_app_container", return_value=None),
        mock.patch("apps.engine.client.find_containers", return_value=[]),
    ):
        close, text = connect_until_closed(app.name, headers)
    assert close["code"] == services.CLOSE_NOT_RUNNING
    assert "has no running container" in text
    fake_engine.exec_tty.assert_not_called()


def test_it_reports_an_engine_failure(client, alice, app, fake_engine):
    fake_engine.exec_tty.side_effect = EngineError("Opening a shell: the engine said no")

    headers = session_headers(client, alice)
    close, text = connect_until_closed(app.name, headers)
    assert close["code"] == services.CLOSE_ENGINE
    assert "the engine said no" in text
