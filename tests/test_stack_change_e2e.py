"""A Python version change takes effect, against the real engine: the
serving release is built again on the new runtime (its image built on
demand when missing), released with zero downtime, and config, the record
and the running container agree on the version."""

from __future__ import annotations

import secrets
from unittest import mock

import pytest
import requests

from apps.deployments import services, tasks
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.lifecycle import operations as lifecycle_ops
from apps.webapps import services as config
from apps.webapps.models import WebApp
from tests.deploy_helpers import cleanup_app, zip_files

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

APP = """
import sys
from flask import Flask
app = Flask(__name__)

@app.route("/")
def index():
    return {"python": "%d.%d" % sys.version_info[:2]}
"""


@pytest.fixture
def app(alice, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False
    settings.BERTH_START_TIME_LIMIT = 60
    webapp = WebApp.objects.create(name=f"stk-{secrets.token_hex(3)}", owner=alice)
    yield webapp
    cleanup_app(webapp.name)


def serving(app: WebApp) -> dict:
    active = lifecycle_ops.active_deployment(app)
    session = requests.Session()
    session.trust_env = False
    return session.get(f"http://127.0.0.1:{active.host_port}/", timeout=10).json()


def test_a_python_version_change_rebuilds_and_serves_the_new_python(app, alice):
    first = services.run_deployment(services.create_deployment(app, zip_files({"app.py": APP})).pk)
    assert first.status == Deployment.Status.SUCCESS, first.log
    assert serving(app) == {"python": "3.11"}

    with mock.patch.object(tasks.deploy, "delay") as queued:
        config.update_general_settings(app, linux_fx_version="PYTHON|3.13", actor=alice)
    rebuild_id = queued.call_args.kwargs["deployment_id"]
    # Until the rebuild runs, the old release serves.
    assert serving(app) == {"python": "3.11"}
    rebuild = services.run_deployment(rebuild_id)
    assert rebuild.status == Deployment.Status.SUCCESS, rebuild.log
    assert rebuild.source == Deployment.Source.STACK

    app.refresh_from_db()
    assert app.linux_fx_version == "PYTHON|3.13"
    assert serving(app) == {"python": "3.13"}
    active = lifecycle_ops.active_deployment(app)
    assert active.pk == rebuild.pk
    assert engine.image_labels(active.image).get("io.berth.deployment") == str(rebuild.pk)
    # The old container is gone: nothing runs on 3.11 any more.
    assert engine.find_containers({"io.berth.app": app.name, "io.berth.role": "app"}) == [
        active.container
    ]
