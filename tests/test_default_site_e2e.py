"""A new app serves App Service's default site from the runtime image, from
the moment it is created until its first release serves, and again while a
first deployment that failed leaves it without one. Against the real engine."""

from __future__ import annotations

import secrets

import pytest
import requests

from apps.deployments import services, tasks
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.lifecycle import defaultsite, reconcile
from apps.webapps import services as config
from apps.webapps.environment import container_port
from tests.deploy_helpers import cleanup_app, zip_files

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def app(alice, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False
    settings.BERTH_START_TIME_LIMIT = 30
    settings.BERTH_HTTP_5XX_GRACE = 5
    webapp = config.create_app(name=f"ds-{secrets.token_hex(3)}", owner=alice)
    yield webapp
    cleanup_app(webapp.name)


def page(container: str, app) -> requests.Response:
    port = engine.published_port(container, container_port(app))
    session = requests.Session()
    session.trust_env = False
    return session.get(f"http://127.0.0.1:{port}/", timeout=10)


def app_containers(app) -> list[str]:
    return engine.find_containers({"io.berth.app": app.name, "io.berth.role": "app"})


def test_the_default_site_serves_until_the_first_release_does(app):
    tasks.default_site(app_id=app.pk)  # what creating the app queued
    name = defaultsite.container_name(app)
    assert app_containers(app) == [name]
    answer = page(name, app)
    assert answer.status_code == 200 and "waiting for your content" in answer.text
    # Reconcile leaves a serving default site alone.
    assert reconcile.reconcile(app) == []

    # A first deployment that fails keeps it.
    broken = zip_files({"app.py": "raise SystemExit('no app here')\n"})
    failed = services.run_deployment(services.create_deployment(app, broken).pk)
    assert failed.status == Deployment.Status.FAILED
    assert app_containers(app) == [name]

    # The first release that serves retires it.
    code = zip_files(
        {
            "app.py": "from flask import Flask\napp = Flask(__name__)\n@app.get('/')\ndef i():\n    return 'mine'\n"
        }
    )
    done = services.run_deployment(services.create_deployment(app, code).pk)
    assert done.status == Deployment.Status.SUCCESS, done.log
    assert app_containers(app) == [done.container]
    assert page(done.container, app).text == "mine"
    # And reconcile does not bring it back.
    reconcile.reconcile(app)
    assert app_containers(app) == [done.container]
