"""App Service's start-up rules, against the real engine: WEBSITES_PORT,
a per-app WEBSITES_CONTAINER_START_TIME_LIMIT, and a release that answers
only 500 failing early with the exception from the app's log."""

from __future__ import annotations

import secrets

import pytest
import requests

from apps.core import failures
from apps.deployments import services
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.lifecycle import operations as lifecycle_ops
from apps.webapps import services as config
from apps.webapps.models import WebApp
from tests.deploy_helpers import cleanup_app, zip_files

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

FLASK = """
import os, time
from flask import Flask
time.sleep(float(os.environ.get("SLOW_IMPORT", "0")))
app = Flask(__name__)

@app.route("/")
def index():
    if os.environ.get("BROKEN"):
        raise RuntimeError("the database is not configured")
    return {"port": os.environ["PORT"]}
"""


@pytest.fixture
def app(alice, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False
    settings.BERTH_START_TIME_LIMIT = 120
    webapp = WebApp.objects.create(name=f"sr-{secrets.token_hex(3)}", owner=alice)
    yield webapp
    cleanup_app(webapp.name)


def deploy(app: WebApp, **app_settings: str) -> Deployment:
    config.set_app_settings(
        app, [config.SettingInput(k, v) for k, v in app_settings.items()], restart=False
    )
    return services.run_deployment(services.create_deployment(app, zip_files({"app.py": FLASK})).pk)


def test_websites_port_is_the_port_the_app_listens_on(app):
    d = deploy(app, WEBSITES_PORT="5000")
    assert d.status == Deployment.Status.SUCCESS, d.log
    active = lifecycle_ops.active_deployment(app)
    session = requests.Session()
    session.trust_env = False
    assert session.get(f"http://127.0.0.1:{active.host_port}/", timeout=10).json() == {
        "port": "5000"
    }
    assert engine.published_port(active.container, 5000) == active.host_port


def test_an_app_answering_only_500_fails_early_with_its_exception(app, settings):
    settings.BERTH_HTTP_5XX_GRACE = 5
    d = deploy(app, BROKEN="1")
    assert d.status == Deployment.Status.FAILED
    assert d.failure_code == failures.HTTP_5XX
    assert d.failure_evidence["exception"] == "RuntimeError: the database is not configured"
    assert "RuntimeError: the database is not configured" in d.status_text
    # It failed at the grace, not at the 120 s start limit.
    assert d.failure_evidence["for_s"] == 5 and "limit_s" not in d.failure_evidence


def test_the_start_time_limit_is_the_apps_own(app):
    d = deploy(app, SLOW_IMPORT="60", WEBSITES_CONTAINER_START_TIME_LIMIT="8")
    assert d.status == Deployment.Status.FAILED
    assert d.failure_code == failures.START_TIMEOUT
    assert d.failure_evidence["limit_s"] == 8
