"""The SSH console against a real container from the runtime image, labelled
as the deploy pipeline labels an app's container."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest
from asgiref.sync import async_to_sync

from apps.audit.models import AuditEvent
from apps.console import services
from apps.engine import client as engine
from apps.webapps.models import WebApp
from tests.console_helpers import (
    communicator,
    connect_until_closed,
    read_close,
    read_until,
    session_headers,
    start_app_container,
)

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

IMAGE = "berth/python:3.11"


@pytest.fixture(scope="module", autouse=True)
def runtime_image():
    if not engine.image_exists(IMAGE):
        pytest.fail(f"{IMAGE} is missing: run `python manage.py runtime ensure 3.11`")


@pytest.fixture
def app(alice) -> WebApp:
    return WebApp.objects.create(name=f"ssh-{secrets.token_hex(3)}", owner=alice)


@pytest.fixture
def running(app):
    """An older and a newer release of the app, both running, and a venv in
    the newer one's wwwroot as the build leaves it."""
    names = [
        start_app_container(app.name, 3, ["sleep", "infinity"], {"MY_SETTING": "the old one"}),
        start_app_container(app.name, 12, ["sleep", "infinity"]),
    ]
    code, out = engine.exec_quick(
        names[1], ["python3", "-m", "venv", "--without-pip", "/home/site/wwwroot/antenv"]
    )
    assert code == 0, out
    yield names[1]
    for name in names:
        engine.remove_container(name)


def test_it_finds_the_newest_running_container(app, running):
    assert engine.find_app_container(app.name) == running


def test_it_runs_commands_in_the_apps_container(client, alice, app, running):
    headers = session_headers(client, alice)

    async def scenario():
        comm = communicator(app.name, headers)
        assert (await comm.connect(timeout=20))[0]
        await read_until(comm, "SSH CONNECTION ESTABLISHED")
        await comm.send_to(text_data='{"type": "resize", "rows": 33, "cols": 111}')
        await comm.send_to(bytes_data=b"echo hello-$((6*7))\r")
        await read_until(comm, "hello-42")
        await comm.send_to(bytes_data=b"echo cwd=$(pwd) env=$MY_SETTING venv=$VIRTUAL_ENV\r")
        out = await read_until(comm, "venv=/")
        await comm.send_to(bytes_data=b"echo size=$(stty size) term=$TERM\r")
        out += await read_until(comm, "term=xterm")
        # Ctrl-C interrupts a foreground command, as in a real terminal.
        await comm.send_to(bytes_data=b"sleep 100\r")
        await asyncio.sleep(0.5)
        started = time.monotonic()
        await comm.send_to(bytes_data=b"\x03")
        await comm.send_to(bytes_data=b"echo after-$((1+1))\r")
        await read_until(comm, "after-2", timeout=10)
        interrupted_in = time.monotonic() - started
        # UTF-8 both ways.
        await comm.send_to(bytes_data="echo naïve-☃-$((2*2))\r".encode())
        await read_until(comm, "naïve-☃-4")
        await comm.disconnect(timeout=10)
        return out, interrupted_in

    out, interrupted_in = async_to_sync(scenario)()
    assert "cwd=/home/site/wwwroot" in out
    assert "env=hello from settings" in out
    assert "venv=/home/site/wwwroot/antenv" in out
    assert "size=33 111" in out
    assert interrupted_in < 5
    # Hung up: no shell of ours is left in the container.
    code, left = engine.exec_quick(running, ["sh", "-c", "ls /tmp/.berth-ssh-* 2>/dev/null; true"])
    assert left.strip() == ""
    assert AuditEvent.objects.filter(app_name=app.name, action=services.ACTION_CLOSE).count() == 1


def test_it_hangs_up_commands_left_running(client, alice, app, running):
    headers = session_headers(client, alice)

    async def scenario():
        comm = communicator(app.name, headers)
        await comm.connect(timeout=20)
        await read_until(comm, "ESTABLISHED")
        await comm.send_to(bytes_data=b"sleep 4242\r")
        await asyncio.sleep(0.5)
        await comm.disconnect(timeout=10)

    async_to_sync(scenario)()
    still = "ls -l /proc/[0-9]*/exe 2>/dev/null | grep -c bash; cat /proc/[0-9]*/cmdline | tr '\\0' ' ' | grep -c 'sleep 424[2]'"
    _, out = engine.exec_quick(running, ["sh", "-c", still])
    assert out.split() == ["0", "0"], out


def test_it_says_when_the_app_is_not_running(client, alice, app):
    name = start_app_container(app.name, 5, ["sh", "-c", "exit 3"])
    try:
        engine.wait_container(name, timeout=30)
        headers = session_headers(client, alice)
        close, text = connect_until_closed(app.name, headers, timeout=20)
        assert close["code"] == services.CLOSE_NOT_RUNNING
        assert f"its container {name} exited with code 3" in text
        # And the page says it before opening any socket.
        page = client.get(f"/apps/{app.name}/ssh/")
        assert b"exited with code 3" in page.content
        assert b'id="terminal"' not in page.content
    finally:
        engine.remove_container(name)


def test_it_says_when_the_app_stops_during_a_session(client, alice, app, running):
    headers = session_headers(client, alice)

    async def scenario():
        comm = communicator(app.name, headers)
        await comm.connect(timeout=20)
        await read_until(comm, "ESTABLISHED")
        await asyncio.to_thread(engine.kill_container, running)
        return await read_close(comm, timeout=20)

    close, text = async_to_sync(scenario)()
    assert close["code"] == services.CLOSE_APP_STOPPED
    assert "The app stopped" in text
