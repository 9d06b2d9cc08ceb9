# The fixtures come from tests.test_cli_up_e2e; test arguments naming them are not redefinitions.
# ruff: noqa: F811
"""The git remote, its password and the app's logs from the command line,
end to end: the `berth` CLI as a subprocess against a live portal, an app
deployed on the real engine from the berth/python:3.11 image, and git
talking to the remote the CLI printed."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import zipfile

import pytest

from apps.audit.models import AuditEvent
from apps.deployments.models import Deployment
from apps.webapps.models import WebApp
from tests.deploy_helpers import cleanup_app
from tests.test_cli_up_e2e import berth, portal  # noqa: F401

pytestmark = [pytest.mark.docker, pytest.mark.runtime]

SECRET = f"e2e-secret-{secrets.token_hex(8)}"
APP = """\
import os
print("key=" + os.environ["API_KEY"], flush=True)

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"logs and credentials"]
"""


@pytest.fixture
def app_name():
    name = f"cli-src-{secrets.token_hex(3)}"
    yield name
    cleanup_app(name)


def git(*args: str) -> subprocess.CompletedProcess:
    # No prompt, no credential helper, no proxy for 127.0.0.1.
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "NO_PROXY": "127.0.0.1",
    }
    return subprocess.run(
        ["git", "-c", "credential.helper=", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_the_remote_its_password_and_the_logs_from_the_cli(portal, app_name, tmp_path):
    berth(
        tmp_path, "login", "--url", portal, "-u", "dave", "--password-stdin",
        stdin="dave-password-1\n",
    )  # fmt: skip
    berth(tmp_path, "webapp", "create", "-g", "demo", "-n", app_name, "--runtime", "PYTHON|3.11")
    berth(
        tmp_path, "webapp", "config", "appsettings", "set", "-g", "demo", "-n", app_name,
        "--settings", f"API_KEY={SECRET}",
    )  # fmt: skip
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text(APP)
    berth(tmp_path, "webapp", "up", "-n", app_name, "-g", "demo", cwd=project)
    app = WebApp.objects.get(name=app_name)
    deployment = Deployment.objects.get(app=app, active=True)

    # The credentials: the password hidden, then shown when asked (and recorded).
    hidden = berth(
        tmp_path, "webapp", "deployment", "list-publishing-credentials", "-g", "demo", "-n", app_name
    )  # fmt: skip
    creds = json.loads(hidden.stdout)
    assert creds["publishingUserName"] == f"${app_name}"
    assert creds["publishingPassword"] is None and "redacted" in hidden.stderr
    assert app.publishing_password not in hidden.stdout + hidden.stderr
    assert not AuditEvent.objects.filter(app=app, action="publishingcredentials.list").exists()
    password = berth(
        tmp_path, "webapp", "deployment", "list-publishing-credentials", "-g", "demo",
        "-n", app_name, "--show-values", "--query", "publishingPassword", "-o", "tsv",
    ).stdout.strip()  # fmt: skip
    assert password == app.publishing_password
    assert AuditEvent.objects.filter(app=app, action="publishingcredentials.list").count() == 1

    # The remote works with that password, and not with another.
    remote = json.loads(
        berth(
            tmp_path, "webapp", "deployment", "source", "config-local-git", "-g", "demo",
            "-n", app_name,
        ).stdout
    )["url"]  # fmt: skip
    assert remote == f"{portal}/git/{app_name}.git".replace("://", f"://${app_name}@")
    user = f"${app_name}@"
    listed = git("ls-remote", remote.replace(user, f"${app_name}:{password}@"))
    assert listed.returncode == 0, listed.stderr
    refused = git("ls-remote", remote.replace(user, f"${app_name}:wrong-password@"))
    assert refused.returncode != 0
    shown = berth(
        tmp_path, "webapp", "config", "show", "-n", app_name, "--query", "scmType", "-o", "tsv"
    )
    assert shown.stdout == "LocalGit\n"

    # The logs: the app printed its secret at start; the zip has the line, masked.
    zipped = tmp_path / "webapp_logs.zip"
    got = berth(tmp_path, "webapp", "log", "download", "-g", "demo", "-n", app_name, cwd=tmp_path)
    assert got.stdout == "" and "Downloaded logs to webapp_logs.zip" in got.stderr
    with zipfile.ZipFile(zipped) as zf:
        files = {name: zf.read(name).decode() for name in zf.namelist()}
    container_log = files[f"LogFiles/{app_name}_docker.log"]
    assert f"{deployment.container} stdout key=***" in container_log
    assert "Booting worker" in container_log or "Listening at" in container_log
    build_log = files[f"deployments/{deployment.pk}/log.log"]
    assert build_log.strip() and "gunicorn" in build_log
    everything = "".join(files.values())
    assert SECRET not in everything and password not in everything
