"""Builds killed for memory or time end failed with the reason, against the
real engine, and leave no build container behind."""

from __future__ import annotations

import secrets

import pytest

from apps.deployments import services
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.webapps import services as config
from apps.webapps.models import WebApp
from tests.deploy_helpers import cleanup_app, zip_files

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

CODE = {"app.py": "from flask import Flask\napp = Flask(__name__)\n"}


@pytest.fixture
def app(alice, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False
    webapp = WebApp.objects.create(name=f"bl-{secrets.token_hex(3)}", owner=alice)
    yield webapp
    cleanup_app(webapp.name)


def build(app: WebApp, **app_settings) -> Deployment:
    config.set_app_settings(
        app, [config.SettingInput(k, v) for k, v in app_settings.items()], restart=False
    )
    return services.run_deployment(services.create_deployment(app, zip_files(CODE)).pk)


def test_a_build_past_its_memory_limit_fails_saying_so(app, settings):
    settings.BERTH_BUILD_MEMORY = "96m"
    d = build(app, POST_BUILD_COMMAND="python3 -c \"b = b'x' * (400 * 1024 * 1024)\"")
    assert d.status == Deployment.Status.FAILED
    assert "out of memory" in d.status_text and "96m" in d.status_text, d.log
    assert not engine.find_containers({"io.berth.app": app.name, "io.berth.role": "build"})


def test_a_build_past_its_time_limit_fails_saying_so(app, settings):
    settings.BERTH_BUILD_TIMEOUT = 4
    d = build(app, PRE_BUILD_COMMAND="sleep 60")
    assert d.status == Deployment.Status.FAILED
    assert "longer than 4 s (BERTH_BUILD_TIMEOUT)" in d.status_text, d.log
    assert d.duration.total_seconds() < 30
    assert not engine.find_containers({"io.berth.app": app.name, "io.berth.role": "build"})


def test_a_build_that_leaves_a_process_behind_finishes_when_its_script_does(app, settings):
    # The build runs through `docker exec`; a process left in the background
    # still holds the output open when the script ends. The engine closes an
    # exec's output shortly after its process exits, and the build
    # container is stopped before the commit, ending what was left behind.
    settings.BERTH_BUILD_TIMEOUT = 60
    d = build(app, PRE_BUILD_COMMAND="sleep 120 &", WEBSITE_WARMUP_STATUSES="any")
    assert d.status == Deployment.Status.SUCCESS, d.log
    assert d.duration.total_seconds() < 30
    assert "Build finished." in d.log
