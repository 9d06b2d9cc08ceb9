"""Rollback restores code and settings together, against the real engine:
the app echoes a setting and its code version."""

from __future__ import annotations

import secrets

import pytest
import requests

from apps.deployments import services
from apps.deployments.models import Deployment
from apps.lifecycle import operations as lifecycle_ops
from apps.webapps import services as config
from apps.webapps.models import WebApp
from tests.deploy_helpers import cleanup_app, zip_files

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

APP = """
import os
from flask import Flask
app = Flask(__name__)

@app.route("/")
def index():
    return {"version": "VERSION", "greeting": os.environ.get("GREETING", "")}
"""


@pytest.fixture
def app(alice, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False
    settings.BERTH_START_TIME_LIMIT = 40
    webapp = WebApp.objects.create(name=f"rb-{secrets.token_hex(3)}", owner=alice)
    yield webapp
    cleanup_app(webapp.name)


def deploy(app: WebApp, version: str) -> Deployment:
    code = zip_files({"app.py": APP.replace("VERSION", version)})
    d = services.run_deployment(services.create_deployment(app, code).pk)
    assert d.status == Deployment.Status.SUCCESS, d.log
    return d


def serving(app: WebApp) -> dict:
    active = lifecycle_ops.active_deployment(app)
    session = requests.Session()
    session.trust_env = False
    return session.get(f"http://127.0.0.1:{active.host_port}/", timeout=10).json()


def test_a_rollback_with_settings_restores_code_and_settings_together(app, alice):
    config.set_app_settings(app, [config.SettingInput("GREETING", "hello from v1")], restart=False)
    v1 = deploy(app, "v1")
    assert serving(app) == {"version": "v1", "greeting": "hello from v1"}
    assert v1.snapshot["appSettings"]["GREETING"]["value"] == "hello from v1"
    assert "hello from v1" not in Deployment.objects.get(pk=v1.pk).log

    config.set_app_settings(app, [config.SettingInput("GREETING", "hello from v2")], restart=False)
    config.update_general_settings(app, app_command_line="", restart=False)
    deploy(app, "v2")
    assert serving(app) == {"version": "v2", "greeting": "hello from v2"}

    # Without the tick: v1's code, today's settings.
    plain = services.run_deployment(services.redeploy(v1, deployer=alice).pk)
    assert plain.status == Deployment.Status.SUCCESS, plain.log
    assert serving(app) == {"version": "v1", "greeting": "hello from v2"}

    # With it: v1's code and v1's settings, in one deploy.
    back = services.run_deployment(services.redeploy(v1, deployer=alice, restore_settings=True).pk)
    assert back.status == Deployment.Status.SUCCESS, back.log
    assert serving(app) == {"version": "v1", "greeting": "hello from v1"}
    assert back.snapshot["appSettings"]["GREETING"]["value"] == "hello from v1"
