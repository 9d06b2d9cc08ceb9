"""The Log stream against the real engine: a container from the runtime image
that prints lines, with an app's labels, read through the SSE endpoint; then
50 viewers at once against the portal under uvicorn."""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.webapps.models import AppSetting, WebApp
from tests.test_logstream import read_events

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

IMAGE = "berth/python:3.11"
ROOT = Path(__file__).resolve().parents[1]
SECRET = "hunter2-very-secret"


@pytest.fixture
def printing_app(alice):
    """An app whose serving container prints a numbered line every 0.2 s."""
    if not engine.image_exists(IMAGE):
        pytest.fail(f"{IMAGE} is missing: python manage.py runtime ensure 3.11")
    app = WebApp.objects.create(name=f"ls-{secrets.token_hex(3)}", owner=alice)
    AppSetting.objects.create(app=app, name="API_KEY", value=SECRET)
    name = f"berth-{app.name}-1"
    script = (
        "import sys, time\n"
        "print('[startup] hello from the app', flush=True)\n"
        f"print('key={SECRET}', file=sys.stderr, flush=True)\n"
        "i = 0\n"
        "while True:\n"
        "    i += 1; print(f'tick {i}', flush=True); time.sleep(0.2)\n"
    )
    container = engine.create_container(
        IMAGE,
        ["python3", "-u", "-c", script],
        name=name,
        environment={},
        labels={"io.berth.app": app.name, "io.berth.role": "app", "io.berth.deployment": "1"},
    )
    engine.start_container(container)
    Deployment.objects.create(app=app, status="success", active=True, container=name)
    yield app, name
    engine.remove_container(name)


def test_it_streams_a_real_containers_output(alice, printing_app):
    app, name = printing_app
    time.sleep(0.5)
    messages = read_events(f"/apps/{app.name}/logstream/events", alice, 6, timeout=15)
    text = "\n".join(messages)
    assert "[startup] hello from the app" in text
    assert "key=***" in text and SECRET not in text
    assert '"s": "stderr"' in text
    assert "tick 1" in text


def test_it_marks_a_real_restart(alice, printing_app):
    app, name = printing_app
    time.sleep(0.5)

    def restart_soon() -> None:
        time.sleep(1.5)
        engine.client().api.restart(name, timeout=1)

    threading.Thread(target=restart_soon, daemon=True).start()
    got: list[str] = []

    messages = read_events(f"/apps/{app.name}/logstream/events", alice, 40, timeout=25)
    got = [m for m in messages if "container restarted at" in m]
    assert got, "\n".join(messages)
    after = messages[messages.index(got[0]) + 1 :]
    assert any("[startup] hello from the app" in m for m in after)


def test_the_download_reads_the_real_container(alice_client, printing_app):
    app, _ = printing_app
    time.sleep(0.8)
    body = alice_client.get(f"/apps/{app.name}/logstream/download?lines=20").content.decode()
    assert "stdout tick" in body
    assert "stderr key=***" in body


# --- many viewers -------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def portal(tmp_path, printing_app):
    """The portal under uvicorn on 127.0.0.1 with its own SQLite file, an
    app whose container prints, and a logged-in session."""
    app, container = printing_app
    port = _free_port()
    env = {
        **os.environ,
        "BERTH_DATA_DIR": str(tmp_path / "data"),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": "",
        "DEBUG": "False",
    }
    env.pop("DATABASE_URL")
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    setup = (
        "from django.contrib.auth.models import User;"
        "from apps.webapps.models import WebApp;"
        "from apps.deployments.models import Deployment;"
        "u=User.objects.create_user('viewer', password='viewer-password-1');"
        f"a=WebApp.objects.create(name='{app.name}', owner=u);"
        f"Deployment.objects.create(app=a, status='success', active=True, container='{container}')"
    )
    subprocess.run([py, "manage.py", "shell", "-c", setup], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [py, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    server = subprocess.Popen(
        [
            py,
            "-m",
            "uvicorn",
            "portal.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.trust_env = False
    try:
        for _ in range(100):
            try:
                session.get(base + "/healthz", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        page = session.get(base + "/login/")
        session.post(
            base + "/login/",
            data={
                "username": "viewer",
                "password": "viewer-password-1",
                "csrfmiddlewaretoken": page.cookies["csrftoken"],
            },
            headers={"Referer": base + "/login/"},
        )
        yield base, session, app
    finally:
        server.terminate()
        server.wait(10)


def test_fifty_viewers_do_not_slow_the_portal(portal, capsys):
    base, session, app = portal
    url = f"{base}/apps/{app.name}/logstream/events"
    page = f"{base}/apps/{app.name}/"

    def p50(n: int = 40) -> float:
        times = []
        for _ in range(n):
            start = time.perf_counter()
            assert session.get(page, timeout=10).status_code == 200
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    idle = p50()
    stop = threading.Event()
    lines_seen = [0] * 50
    opened = threading.Barrier(51, timeout=30)

    def viewer(i: int) -> None:
        s = requests.Session()
        s.trust_env = False
        s.cookies.update(session.cookies)
        with s.get(url, stream=True, timeout=30) as r:
            opened.wait()
            for raw in r.iter_lines():
                if raw.startswith(b"event: line"):
                    lines_seen[i] += 1
                if stop.is_set():
                    return

    threads = [threading.Thread(target=viewer, args=(i,), daemon=True) for i in range(50)]
    for t in threads:
        t.start()
    opened.wait()
    time.sleep(2)
    busy = p50()
    stop.set()
    for t in threads:
        t.join(10)
    with capsys.disabled():
        print(
            f"\nlog stream: Overview p50 {idle * 1000:.1f} ms idle, {busy * 1000:.1f} ms with 50 "
            f"SSE viewers; lines per viewer min {min(lines_seen)} max {max(lines_seen)}"
        )
    assert min(lines_seen) > 0, "every viewer got lines"
    assert busy < max(idle * 5, 0.25), f"p50 {busy:.3f}s with 50 viewers vs {idle:.3f}s idle"
