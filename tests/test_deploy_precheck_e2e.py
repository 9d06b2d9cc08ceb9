"""The pre-deployment check end to end, against the real engine and the
berth/python:3.11 image: a sample with a committed virtual environment and no
requirements.txt, deployed through the zipdeploy API, by `berth webapp
deploy` and by git push. Each shows the warnings (answer, log, stderr,
`remote:` lines) and still deploys: warnings never block."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from apps.access.models import Role, RoleAssignment
from apps.deployments.models import Deployment
from apps.webapps.models import WebApp
from tests.deploy_helpers import SAMPLES, push_files, zip_sample

# `portal`: a live portal (live_server) with the user dave, where deployments
# run as their request ends (eager Celery); `berth`: the CLI as a subprocess.
from tests.test_cli_up_e2e import berth, portal  # noqa: F401

pytestmark = [
    pytest.mark.docker,
    pytest.mark.runtime,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("deploy_settings", "portal"),
]

# tests/samples/no_requirements (a Flask object named `server`, no
# requirements.txt) with a virtual environment committed beside it.
VENV = {
    "venv/pyvenv.cfg": "home = /usr/bin\ninclude-system-site-packages = false\n",
    "venv/bin/activate": "# This file must be used with 'source bin/activate'\n",
    "venv/lib/python3.11/site-packages/flask/__init__.py": "raise ImportError('not this one')\n",
}
COMMAND = (
    "gunicorn --bind=0.0.0.0:$PORT --timeout 600 --access-logfile - --error-logfile - app:server"
)
RULE = f"Pre-deployment check: start-up rule: flask (found app.py, object server) will match; command: {COMMAND}"


def basic(app: WebApp) -> dict[str, str]:
    token = base64.b64encode(f"{app.publishing_username}:{app.publishing_password}".encode())
    return {"HTTP_AUTHORIZATION": f"Basic {token.decode()}"}


def served(d: Deployment) -> str:
    session = requests.Session()
    session.trust_env = False
    return session.get(f"http://127.0.0.1:{d.host_port}/", timeout=10).text


def assert_warned_and_deployed(d: Deployment) -> None:
    """The log opens with the check, goes on with the build, and the app runs."""
    assert d.status == "success", d.log
    head = [line.split(" ", 1)[1] for line in d.log.splitlines()[:4]]
    assert head[0].startswith("Pre-deployment check: warning: venv/ is a virtual environment")
    assert head[1].startswith("Pre-deployment check: warning: No requirements.txt at the root")
    assert head[2] == RULE
    assert head[3] == "Pre-deployment check: 2 warnings; warnings don't stop the deployment."
    # The build that follows agrees with the check...
    assert "Could not find setup.py or requirements.txt; Not running pip install." in d.log
    # ...and the release runs exactly the command the check announced.
    assert f"Command: {COMMAND}" in d.log
    assert served(d) == "no requirements here"


def test_zipdeploy_through_the_api_warns_in_the_answer_and_the_log(client, make_app):
    app = make_app("e2e-precheck")
    answer = client.post(
        f"/api/apps/{app.name}/zipdeploy",
        data=zip_sample("no_requirements", VENV),
        content_type="application/zip",
        **basic(app),
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert [f["code"] for f in body["precheck"]] == [
        "committed_venv",
        "missing_requirements",
        "startup_rule",
    ]
    assert body["precheck"][0]["path"] == "venv"
    assert body["precheck"][2]["rule"] == "flask"
    assert body["precheck"][2]["command"] == COMMAND
    d = Deployment.objects.get(pk=body["id"])
    assert_warned_and_deployed(d)
    log = client.get(f"/api/apps/{app.name}/deployments/{d.pk}/log", **basic(app))
    assert RULE in log.content.decode()


def sample_with_venv() -> dict[str, str]:
    files = {p.name: p.read_text() for p in (SAMPLES / "no_requirements").iterdir()}
    return {**files, **VENV}


def test_a_git_push_shows_the_warnings_as_remote_lines(live_server, make_app, tmp_path):
    app = make_app("e2e-precheck-git")
    said = push_files(live_server.url, app, tmp_path / "work", sample_with_venv())

    d = Deployment.objects.get(app=app)
    assert d.source == "git"
    assert_warned_and_deployed(d)
    assert said[0] == f"Berth: deployment {d.pk} of {app.name} from {d.commit_id[:8]}."
    assert said[1].startswith("Pre-deployment check: warning: venv/ is a virtual environment")
    assert said[2].startswith("Pre-deployment check: warning: No requirements.txt at the root")
    assert said[3] == RULE
    # No worker here (eager Celery): the deployment ran before git's answer.
    assert said[5].startswith(f"Berth: deployment {d.pk}: success.")
    assert said[6] == f"Log: {live_server.url}/apps/{app.name}/deployment-center/{d.pk}/"


def test_berth_webapp_deploy_prints_the_warnings_on_stderr(
    live_server, make_app, tmp_path, django_user_model
):
    app = make_app("e2e-precheck-cli")
    # dave (the portal fixture's user, who logs in below) is an Owner of it.
    RoleAssignment.objects.create(
        app=app, user=django_user_model.objects.get(username="dave"), role=Role.OWNER
    )
    login = ("login", "--url", live_server.url, "-u", "dave", "--password-stdin")
    berth(tmp_path, *login, stdin="dave-password-1\n")
    package = tmp_path / "app.zip"
    package.write_bytes(zip_sample("no_requirements", VENV))
    deployed = berth(
        tmp_path, "webapp", "deploy", "-n", app.name, "--src-path", str(package), "--type", "zip"
    )
    body = json.loads(deployed.stdout)  # stdout stays the deployment's JSON
    assert body["status"] == "success"
    assert [f["code"] for f in body["precheck"]][:2] == ["committed_venv", "missing_requirements"]
    err = deployed.stderr.splitlines()
    assert any(
        line.startswith("WARNING: Pre-deployment check: venv/ is a virtual environment")
        for line in err
    )
    assert any(
        line.startswith("WARNING: Pre-deployment check: No requirements.txt") for line in err
    )
    assert (
        f"Start-up rule: flask (found app.py, object server) will match; command: {COMMAND}" in err
    )
    assert_warned_and_deployed(Deployment.objects.get(pk=body["id"]))
