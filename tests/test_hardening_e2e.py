"""App containers are hardened, against the real engine: capabilities
dropped, not root, no engine socket, limits applied, and an app that
allocates past its limit is reported as killed for memory."""

from __future__ import annotations

import re

import pytest
import requests

from apps.deployments import services
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.lifecycle import containers
from apps.lifecycle import operations as lifecycle_ops
from apps.webapps import services as config
from apps.webapps.models import WebApp
from tests.deploy_helpers import zip_files

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

APP = """
from flask import Flask
app = Flask(__name__)
hog = []

@app.route("/")
def index():
    return "ok"

@app.route("/eat")
def eat():
    for _ in range(100):
        hog.append(b"x" * (16 * 1024 * 1024))
    return "still alive"
"""


@pytest.fixture
def make_app(make_app, deploy_settings):
    """make(**app_settings): an app with these settings, deployed."""

    def make(**app_settings) -> WebApp:
        app = make_app("hard")
        config.set_app_settings(
            app, [config.SettingInput(k, v) for k, v in app_settings.items()], restart=False
        )
        d = services.run_deployment(services.create_deployment(app, zip_files({"app.py": APP})).pk)
        assert d.status == Deployment.Status.SUCCESS, d.log
        return app

    return make


def _status(container: str) -> dict[str, str]:
    code, out = engine.exec_quick(container, ["cat", "/proc/self/status"])
    assert code == 0, out
    return dict(re.findall(r"^(\w+):\s*(.*)$", out, re.MULTILINE))


def test_it_drops_capabilities_runs_as_a_user_and_applies_limits(make_app):
    app = make_app(WEBSITE_MEMORY_LIMIT_MB="300", WEBSITE_CPU_LIMIT="0.5")
    active = lifecycle_ops.active_deployment(app)
    status = _status(active.container)
    assert status["CapEff"] == "0000000000000000"
    assert status["CapBnd"] == "0000000000000000"
    assert status["Uid"].split()[0] == "1000"
    assert status["NoNewPrivs"] == "1"
    code, _ = engine.exec_quick(active.container, ["test", "-e", "/var/run/docker.sock"])
    assert code != 0
    host = engine.client().api.inspect_container(active.container)["HostConfig"]
    assert host["Privileged"] is False
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Memory"] == 300 * 1024 * 1024
    assert host["NanoCpus"] == 500_000_000
    assert host["PidsLimit"] == 512
    assert not any("docker.sock" in (m.get("Source") or "") for m in host.get("Mounts") or [])
    assert "runs as uid 1000" in Deployment.objects.get(pk=active.pk).log


def test_it_runs_as_root_with_few_capabilities_when_the_app_asks(make_app):
    app = make_app(WEBSITES_RUN_AS_ROOT="true")
    active = lifecycle_ops.active_deployment(app)
    status = _status(active.container)
    assert status["Uid"].split()[0] == "0"
    caps = int(status["CapEff"], 16)
    # CHOWN 0, DAC_OVERRIDE 1, FOWNER 3, SETGID 6, SETUID 7: nothing else.
    assert caps == (1 << 0) | (1 << 1) | (1 << 3) | (1 << 6) | (1 << 7)
    assert "WEBSITES_RUN_AS_ROOT is true" in Deployment.objects.get(pk=active.pk).log


def test_an_app_past_its_memory_limit_is_reported_as_oom_killed(make_app, alice_client):
    app = make_app(WEBSITE_MEMORY_LIMIT_MB="96")
    active = lifecycle_ops.active_deployment(app)
    session = requests.Session()
    session.trust_env = False
    with pytest.raises(requests.RequestException):
        answer = session.get(f"http://127.0.0.1:{active.host_port}/eat", timeout=30)
        answer.raise_for_status()
    message = containers.oom_message(active.container, 96)
    assert message == "killed: out of memory (limit 96 MB)"
    page = alice_client.get(f"/apps/{app.name}/").content.decode()
    assert "killed: out of memory (limit 96 MB)" in page and "96 MB memory" in page
    outcome = lifecycle_ops.restart_app(app, reason="test")
    assert outcome.ok, outcome.message
    assert "killed: out of memory (limit 96 MB)" in outcome.message
    assert "killed: out of memory (limit 96 MB)" in outcome.log
