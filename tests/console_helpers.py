"""Helpers for the SSH console's tests: a WebSocket communicator against the
real ASGI application (origin check, session and token auth included), and
readers that wait for text to appear."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from asgiref.testing import ApplicationCommunicator
from django.conf import settings

ORIGIN = (b"origin", b"http://localhost")


class WebsocketCommunicator(ApplicationCommunicator):
    """channels.testing.WebsocketCommunicator's few methods used here.
    `channels.testing` itself cannot be imported without daphne (its live
    server), which would be Twisted and friends for one test helper."""

    def __init__(self, application, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        scope = {
            "type": "websocket",
            "path": path,
            "query_string": b"",
            "headers": headers,
            "subprotocols": [],
        }
        super().__init__(application, scope)

    async def connect(self, timeout: float = 1) -> tuple[bool, object]:
        await self.send_input({"type": "websocket.connect"})
        answer = await self.receive_output(timeout)
        if answer["type"] == "websocket.close":
            return False, answer.get("code", 1000)
        assert answer["type"] == "websocket.accept", answer
        return True, answer.get("subprotocol")

    async def send_to(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.send_input({"type": "websocket.receive", "text": text_data})
        else:
            await self.send_input({"type": "websocket.receive", "bytes": bytes_data})

    async def disconnect(self, code: int = 1000, timeout: float = 1) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


def session_headers(client, user) -> list[tuple[bytes, bytes]]:
    """The headers a logged-in browser sends: its session cookie and Origin."""
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return [ORIGIN, (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())]


def communicator(name: str, headers: list[tuple[bytes, bytes]]) -> WebsocketCommunicator:
    from portal.asgi import application

    return WebsocketCommunicator(application, f"/apps/{name}/ssh/ws", headers=headers)


async def read_until(comm: WebsocketCommunicator, needle: str, timeout: float = 10) -> str:
    """Terminal output until `needle` appears; fails with what was seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen = ""
    while needle not in seen:
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"{needle!r} did not appear; the terminal showed {seen[-1500:]!r}")
        try:
            message = await comm.receive_output(timeout=left)
        except TimeoutError:
            raise AssertionError(
                f"{needle!r} did not appear in {timeout} s; the terminal showed {seen[-1500:]!r}"
            ) from None
        if message["type"] == "websocket.close":
            raise AssertionError(f"closed ({message}) before {needle!r}; saw {seen[-1500:]!r}")
        seen += message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace")
    return seen


async def read_close(comm: WebsocketCommunicator, timeout: float = 10) -> tuple[dict, str]:
    """Output until the server closes; (the close message, the text before it)."""
    seen = ""
    while True:
        message = await comm.receive_output(timeout=timeout)
        if message["type"] == "websocket.close":
            return message, seen
        seen += message.get("text") or ""


def connect_until_closed(
    name: str, headers: list[tuple[bytes, bytes]], timeout: float = 10
) -> tuple[dict, str]:
    """Open the console socket and read until the server closes it (for the
    cases where it refuses or ends the session at once)."""
    from asgiref.sync import async_to_sync

    async def scenario() -> tuple[dict, str]:
        comm = communicator(name, headers)
        await comm.connect(timeout=timeout)
        return await read_close(comm)

    return async_to_sync(scenario)()


# A live portal that speaks WebSockets: Django's live_server does not, so
# uvicorn runs the real ASGI application in a subprocess, on its own SQLite
# database in a temporary data folder.

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv" / "bin" / "python")
PASSWORD = "alice-password-1"

SETUP = """
from django.contrib.auth.models import User
from apps.api.models import ApiToken
from apps.webapps.models import WebApp
alice = User.objects.create_user("alice", "alice@example.org", {password!r})
for name in {apps!r}:
    WebApp.objects.create(name=name, owner=alice)
print("TOKEN=" + ApiToken.objects.create_for(alice, "ssh-test")[1])
"""


@dataclass
class LivePortal:
    url: str
    token: str
    app: str
    data_dir: Path
    process: subprocess.Popen

    def log(self) -> str:
        return (self.data_dir / "uvicorn.log").read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_portal(data_dir: Path, app: str, *more_apps: str) -> LivePortal:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(BERTH_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="portal.settings")

    def manage(*args: str) -> str:
        done = subprocess.run(
            [PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    manage("migrate", "--noinput")
    # The real static storage (manifest), so the vendored xterm files are checked too.
    manage("collectstatic", "--noinput")
    out = manage("shell", "-c", SETUP.format(password=PASSWORD, apps=[app, *more_apps]))
    token = next(line[6:] for line in out.splitlines() if line.startswith("TOKEN="))
    port = _free_port()
    log = open(data_dir / "uvicorn.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [
            PY,
            "-m",
            "uvicorn",
            "portal.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    portal = LivePortal(url, token, app, data_dir, process)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1: no proxy
    deadline = time.monotonic() + 30
    while True:
        try:
            with opener.open(f"{url}/login/", timeout=2) as answer:
                if answer.status == 200:
                    return portal
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_portal(portal)
            raise AssertionError(f"uvicorn did not start:\n{portal.log()}")
        time.sleep(0.2)


def stop_portal(portal: LivePortal) -> None:
    portal.process.terminate()
    try:
        portal.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        portal.process.kill()
        portal.process.wait()


def start_app_container(
    app: str,
    deployment: int = 1,
    command: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """A container as the deploy pipeline labels an app's, from the runtime image."""
    from apps.engine import client as engine

    name = f"berth-{app}-{deployment}"
    engine.remove_container(name)
    engine.create_container(
        "berth/python:3.11",
        command or ["sleep", "infinity"],
        name=name,
        environment={"MY_SETTING": "hello from settings", **(env or {})},
        labels={
            "io.berth.app": app,
            "io.berth.deployment": str(deployment),
            "io.berth.role": "app",
        },
    )
    engine.start_container(name)
    return name
