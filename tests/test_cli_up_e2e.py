"""`berth webapp up` and `berth webapp deploy` end to end: the CLI as a
subprocess, a live portal, the real engine and the berth/python:3.11 image."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests

from apps.deployments.models import Deployment
from apps.webapps.models import AppSetting, WebApp
from tests.deploy_helpers import cleanup_app

pytestmark = [pytest.mark.docker, pytest.mark.runtime]

APP = """\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"deployed by berth webapp up"]
"""


@pytest.fixture
def portal(live_server, transactional_db, django_user_model, settings, tmp_path, monkeypatch):
    django_user_model.objects.create_user("dave", "dave@example.org", "dave-password-1")
    settings.DATA_DIR = tmp_path / "data"
    settings.BERTH_PROXY_ROUTING = False
    settings.BERTH_START_TIME_LIMIT = 60
    # No worker runs here: deployments run inside the portal (Celery eager).
    from portal.celery import app as celery_app

    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    return live_server.url


@pytest.fixture
def app_name():
    name = f"cli-up-{secrets.token_hex(3)}"
    yield name
    cleanup_app(name)


ROOT = Path(__file__).resolve().parents[1]


def berth(home: Path, *args: str, cwd: Path | None = None, stdin: str | None = None):
    # This tree's CLI whatever folder it runs in: the shared virtual
    # environment may have another checkout's berth_cli installed.
    env = {**os.environ, "BERTH_CONFIG_DIR": str(home / "cfg"), "PYTHONPATH": str(ROOT)}
    for name in ("BERTH_URL", "BERTH_TOKEN", "BERTH_OUTPUT"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "berth_cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def answer(deployment: Deployment) -> str:
    session = requests.Session()
    session.trust_env = False
    return session.get(f"http://127.0.0.1:{deployment.host_port}/", timeout=10).text


def test_up_creates_builds_and_serves_the_folder(portal, app_name, tmp_path):
    berth(
        tmp_path,
        "login",
        "--url",
        portal,
        "-u",
        "dave",
        "--password-stdin",
        stdin="dave-password-1\n",
    )
    project = tmp_path / "project"
    (project / ".venv" / "lib").mkdir(parents=True)
    (project / ".venv" / "lib" / "junk.py").write_text("raise SystemExit('a committed venv')\n")
    (project / ".env").write_text("SECRET=local\n")
    (project / "app.py").write_text(APP)

    dry = berth(tmp_path, "webapp", "up", "-n", app_name, "--dryrun", cwd=project)
    assert "would create the app" in dry.stderr
    assert not WebApp.objects.filter(name=app_name).exists()

    up = berth(
        tmp_path,
        "webapp",
        "up",
        "-n",
        app_name,
        "-g",
        "demo",
        "--runtime",
        "PYTHON:3.11",
        cwd=project,
    )
    summary = json.loads(up.stdout)
    assert summary["name"] == app_name and summary["resourcegroup"] == "demo"
    assert summary["runtime_version"] == "python|3.11"
    assert app_name in summary["URL"]
    app = WebApp.objects.get(name=app_name)
    assert AppSetting.objects.get(app=app, name="SCM_DO_BUILD_DURING_DEPLOYMENT").value == "true"
    deployment = Deployment.objects.get(app=app, active=True)
    assert answer(deployment) == "deployed by berth webapp up"
    with zipfile.ZipFile(deployment.artifact) as zf:
        assert zf.namelist() == ["app.py"]  # no .venv, no .env

    entries = json.loads(
        berth(tmp_path, "webapp", "log", "deployment", "show", "-n", app_name).stdout
    )
    assert entries and set(entries[0]) == {"details_url", "id", "log_time", "message", "type"}

    # A second release through `webapp deploy --src-path app.zip --type zip`.
    package = tmp_path / "app.zip"
    with zipfile.ZipFile(package, "w") as zf:
        zf.writestr("app.py", APP.replace("webapp up", "webapp deploy"))
    deployed = json.loads(
        berth(
            tmp_path,
            "webapp",
            "deploy",
            "-g",
            "demo",
            "-n",
            app_name,
            "--src-path",
            str(package),
            "--type",
            "zip",
        ).stdout
    )
    assert deployed["status"] == "success" and deployed["complete"] is True
    assert answer(Deployment.objects.get(pk=deployed["id"])) == "deployed by berth webapp deploy"

    berth(tmp_path, "webapp", "delete", "-g", "demo", "-n", app_name)
    assert not WebApp.objects.filter(name=app_name).exists()
