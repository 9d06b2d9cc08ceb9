"""Secrets masked everywhere, end to end against the real engine: a
distinctive secret set as an app setting and a connection string, an app
whose build (POST_BUILD_COMMAND) and runtime (os.environ) print it; then no
stored or streamed place has it (Deployment.log, the archive on disk, the
Log stream, the download, the API, the audit log, the CLI), while the app
does get it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import uuid

import pytest
import requests

from apps.api.models import ApiToken
from apps.audit.models import AuditEvent
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.logs import archive
from apps.webapps.models import WebApp
from tests.apiutil import ApiClient
from tests.deploy_helpers import cleanup_app, zip_files
from tests.test_logstream import read_events

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

APP_PY = """\
import hashlib
import os
import sys

from flask import Flask

# What careless apps do: dump the environment at start-up.
print("ENV DUMP", dict(os.environ), flush=True)
print("stderr sees", os.environ.get("API_KEY"), file=sys.stderr, flush=True)

app = Flask(__name__)


@app.route("/")
def index():
    # Proves the value arrived without showing it.
    return hashlib.sha256(os.environ["API_KEY"].encode()).hexdigest()
"""


@pytest.fixture(autouse=True)
def _deploy_settings(settings, tmp_path, monkeypatch):
    from portal.celery import app as celery_app

    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False
    settings.BERTH_START_TIME_LIMIT = 60
    settings.BERTH_BUILD_TIMEOUT = 300
    # Settings saves restart the app through Celery: run those here (no
    # release yet, so they return at once).
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


@pytest.fixture
def deployed(alice):
    if not engine.image_exists("berth/python:3.11"):
        pytest.fail("berth/python:3.11 is missing: python manage.py runtime ensure 3.11")
    app = WebApp.objects.create(name=f"sec-{uuid.uuid4().hex[:6]}", owner=alice)
    _, token = ApiToken.objects.create_for(alice, "tests")
    yield app, token
    cleanup_app(app.name)


def test_a_secret_is_masked_everywhere_but_reaches_the_app(alice, deployed, live_server, tmp_path):
    app, token = deployed
    secret = f"S3cr3t-{uuid.uuid4()}"
    api = ApiClient(token)
    # Set through the API, as a user would: this also writes the audit log.
    answer = api.patch(
        f"/api/apps/{app.name}/appsettings",
        [
            {"name": "API_KEY", "value": secret},
            {"name": "SCM_DO_BUILD_DURING_DEPLOYMENT", "value": "true"},
            {"name": "POST_BUILD_COMMAND", "value": "echo build sees $API_KEY $CUSTOMCONNSTR_db"},
        ],
    )
    assert answer.status_code == 200, answer.content
    answer = api.patch(
        f"/api/apps/{app.name}/connectionstrings",
        [{"name": "db", "value": f"postgres://u:{secret}@db/x", "type": "Custom"}],
    )
    assert answer.status_code == 200, answer.content

    deployment = zipdeploy(api, app, {"app.py": APP_PY})

    # The app got the value.
    code, out = engine.exec_quick(deployment.container, ["printenv", "API_KEY"])
    assert (code, out.strip()) == (0, secret)
    session = requests.Session()
    session.trust_env = False
    served = session.get(f"http://127.0.0.1:{deployment.host_port}/", timeout=10).text
    assert served == hashlib.sha256(secret.encode()).hexdigest()

    # Build log: the post-build echo ran, masked.
    assert "build sees *** ***" in deployment.log, deployment.log
    assert secret not in deployment.log

    # The archive on disk.
    on_disk = archive_until(app, "ENV DUMP", "stderr sees")
    assert "'API_KEY': '***'" in on_disk and "stderr sees ***" in on_disk
    assert secret not in on_disk

    # The Log stream (SSE), its download, the API's text stream.
    messages = _events_until(f"/apps/{app.name}/logstream/events", alice, "stderr sees")
    streamed = "\n".join(messages)
    assert "ENV DUMP" in streamed and secret not in streamed
    api.client.force_login(alice)
    download = api.client.get(f"/apps/{app.name}/logstream/download").content.decode()
    assert "ENV DUMP" in download and secret not in download

    # The API: the deployment's log, the settings list, the app.
    for path in (
        f"/api/apps/{app.name}/deployments/{deployment.pk}/log",
        f"/api/apps/{app.name}/deployments/",
        f"/api/apps/{app.name}/appsettings",
        f"/api/apps/{app.name}/connectionstrings",
        f"/api/apps/{app.name}",
        f"/api/apps/{app.name}/config",
    ):
        body = api.get(path).content.decode()
        assert secret not in body, path
    listed = api.get(f"/api/apps/{app.name}/appsettings").json()
    assert {s["name"]: s["value"] for s in listed}["API_KEY"] is None

    # The audit log.
    for event in AuditEvent.objects.all():
        assert secret not in f"{event.summary} {event.before} {event.after}"

    # The CLI, against the live portal: the list and the log tail.
    env = {
        **os.environ,
        "BERTH_URL": live_server.url,
        "BERTH_TOKEN": token,
        "BERTH_CONFIG_DIR": str(tmp_path / "cfg"),
    }
    env.pop("BERTH_OUTPUT", None)
    cli = [sys.executable, "-m", "berth_cli", "webapp"]
    listed = subprocess.run(
        [*cli, "config", "appsettings", "list", "-n", app.name],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert "API_KEY" in listed.stdout and secret not in listed.stdout + listed.stderr
    try:
        # The tail runs until stopped: give it a few seconds, then read what it printed.
        ended = subprocess.run(
            [*cli, "log", "tail", "-n", app.name], capture_output=True, env=env, timeout=8
        )
        output = ended.stdout + ended.stderr
    except subprocess.TimeoutExpired as e:
        output = (e.stdout or b"") + (e.stderr or b"")
    tailed = output.decode()
    assert "ENV DUMP" in tailed, tailed
    assert "'API_KEY': '***'" in tailed and secret not in tailed


def zipdeploy(api: ApiClient, app: WebApp, files: dict[str, str]) -> Deployment:
    """Deploy `files` through the API, as a user would; the deployment, succeeded."""
    deploy = api.client.post(
        f"/api/apps/{app.name}/zipdeploy",
        data=zip_files(files),
        content_type="application/zip",
        headers=api.headers,
    )
    assert deploy.status_code == 200, deploy.content
    deployment = Deployment.objects.get(pk=deploy.json()["id"])
    assert deployment.status == "success", deployment.log
    return deployment


def archive_until(app: WebApp, *texts: str) -> str:
    """Run an archiver for `app` until each of `texts` is in its archive;
    the archive's files as they are then on disk."""
    archiver = archive.Archiver(only={app.name})
    try:
        deadline = time.monotonic() + 30
        while not all(text in _archived(app) for text in texts):
            assert time.monotonic() < deadline, _archived(app)
            archiver.step()
            time.sleep(0.2)  # polling the engine's output; the deadline bounds it
    finally:
        archiver.stop()
    files = [p for p in archive.app_dir(app.name).iterdir() if p.is_file()]
    return "".join(p.read_text() for p in files)


def _events_until(path: str, user, text: str) -> list[str]:
    """SSE messages until one holds `text` (the history comes first, at once)."""
    messages: list[str] = []
    for count in range(4, 60, 4):
        try:
            messages = read_events(path, user, count, timeout=5)
        except TimeoutError:
            break
        if any(text in m for m in messages):
            return messages
    raise AssertionError("\n".join(messages))


def _archived(app: WebApp) -> str:
    return "\n".join(a.text for a in archive.tail(app.name, 1000))
