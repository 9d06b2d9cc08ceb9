"""Logs kept, against the real engine: a container from the runtime image
prints lines (one with a secret), the archiver follows it, the container is
removed, and its lines stay in the archive on disk, the Log stream's history
and the download, masked; a chatty container's archive stays bounded."""

from __future__ import annotations

import contextlib
import secrets
import time

import pytest

from apps.engine import client as engine
from apps.logs import archive
from apps.webapps.models import AppSetting, WebApp
from tests.test_logstream import data_of, read_events

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

IMAGE = "berth/python:3.11"


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def started():
    """Start a labelled container running a Python script; removed after."""
    if not engine.image_exists(IMAGE):
        pytest.fail(f"{IMAGE} is missing: python manage.py runtime ensure 3.11")
    names: list[str] = []

    def start(app: WebApp, script: str) -> str:
        name = f"berth-{app.name}-{len(names) + 1}"
        engine.create_container(
            IMAGE,
            ["python3", "-u", "-c", script],
            name=name,
            environment={},
            labels={"io.berth.app": app.name, "io.berth.role": "app", "io.berth.deployment": "1"},
        )
        engine.start_container(name)
        names.append(name)
        return name

    yield start
    for name in names:
        with contextlib.suppress(Exception):
            engine.remove_container(name)


def wait_for(check, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_removed_containers_lines_stay_readable(alice, alice_client, started):
    app = WebApp.objects.create(name=f"kept-{secrets.token_hex(3)}", owner=alice)
    secret = f"S3cr3t-{secrets.token_hex(8)}"
    AppSetting.objects.create(app=app, name="API_KEY", value=secret)
    script = (
        "import sys, time\n"
        "print('[startup] hello', flush=True)\n"
        f"print('key={secret}', file=sys.stderr, flush=True)\n"
        "print('last words before the crash', flush=True)\n"
        "time.sleep(60)\n"
    )
    archiver = archive.Archiver(only={app.name})
    try:
        name = started(app, script)
        wait_for(lambda: archiver.step() and "last words" in _archived(app))
        engine.remove_container(name)
    finally:
        archiver.stop()

    on_disk = (archive.app_dir(app.name) / "app.log").read_text()
    assert "[startup] hello" in on_disk and "last words before the crash" in on_disk
    assert "key=***" in on_disk and secret not in on_disk
    assert f"marker container {name} started" in on_disk

    messages = read_events(f"/apps/{app.name}/logstream/events", alice, 7, timeout=15)
    history = [data_of(m) for m in messages[1:]]
    text = "\n".join(history)
    assert f"container {name} started" in text
    assert "last words before the crash" in text and secret not in text
    assert "No running container" in history[-1]

    body = alice_client.get(f"/apps/{app.name}/logstream/download").content.decode()
    assert "stdout last words before the crash" in body
    assert "stderr key=***" in body and secret not in body


def test_a_chatty_container_keeps_the_archive_bounded(alice, settings, started):
    settings.BERTH_APP_LOG_MB = 0.1  # 104 kB
    app = WebApp.objects.create(name=f"chat-{secrets.token_hex(3)}", owner=alice)
    # About 1 MB of output, ten times the budget.
    script = (
        "import time\nfor i in range(20000): print(f'line {i:06d} ' + 'x' * 40)\ntime.sleep(60)\n"
    )
    archiver = archive.Archiver(only={app.name})
    try:
        started(app, script)
        wait_for(lambda: archiver.step() is not None and "line 019999" in _archived(app, 1))
    finally:
        archiver.stop()
    assert archive.size(app.name) <= archive.max_bytes()
    kept = archive.tail(app.name, 100_000)
    numbers = [int(a.text.split()[1]) for a in kept if a.stream == "stdout"]
    assert numbers == list(range(numbers[0], 20000))  # the newest, in order, none twice
    assert archive.size(app.name) > archive.max_bytes() // 2  # what fits is kept


def test_the_archiver_catches_up_after_a_restart_without_duplicates(alice, started):
    app = WebApp.objects.create(name=f"catch-{secrets.token_hex(3)}", owner=alice)
    script = (
        "import time\n"
        "for i in range(40):\n"
        "    print(f'tick {i}', flush=True); time.sleep(0.1)\n"
        "time.sleep(60)\n"
    )
    first = archive.Archiver(only={app.name})
    try:
        started(app, script)
        wait_for(lambda: first.step() is not None and "tick 5" in _archived(app))
    finally:
        first.stop()  # the archiver goes away while the app goes on printing
    time.sleep(1.5)
    second = archive.Archiver(only={app.name})
    try:
        wait_for(lambda: second.step() is not None and "tick 39" in _archived(app))
    finally:
        second.stop()
    ticks = [a.text for a in archive.tail(app.name, 1000) if a.stream == "stdout"]
    assert ticks == [f"tick {i}" for i in range(40)]


def _archived(app: WebApp, lines: int = 1000) -> str:
    return "\n".join(a.text for a in archive.tail(app.name, lines))
