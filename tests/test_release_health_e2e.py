"""Health checks against the real engine: Host is WEBSITE_HOSTNAME (Django's
host check passes), the path is configurable, 200-399 is healthy unless
WEBSITE_WARMUP_STATUSES says otherwise, and the periodic check restarts an
instance that keeps failing and records it."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from apps.deployments import services
from apps.deployments.models import Deployment, HealthEvent
from apps.lifecycle import watch as health
from apps.webapps import services as config
from apps.webapps.models import WebApp
from tests.deploy_helpers import SAMPLES, zip_files, zip_sample

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

APP = """
from flask import Flask
app = Flask(__name__)
broken = []

@app.route("/")
def index():
    return "not here", 404

@app.route("/healthz")
def healthz():
    return ("sick", 503) if broken else "ok"

@app.route("/break")
def breaks():
    broken.append(1)
    return "broken"
"""


@pytest.fixture
def make_app(make_app, deploy_settings):
    """make(**fields): an app named hc-<random>."""
    deploy_settings.BERTH_START_TIME_LIMIT = 8

    def make(**fields) -> WebApp:
        return make_app("hc", **fields)

    return make


def deploy(app: WebApp, data: bytes) -> Deployment:
    return services.run_deployment(services.create_deployment(app, data).pk)


def test_a_django_app_allowing_only_website_hostname_passes(make_app, settings):
    settings.BERTH_START_TIME_LIMIT = 60
    app = make_app()
    text = (SAMPLES / "django_app/mysite/settings.py").read_text()
    strict = text.replace(
        'ALLOWED_HOSTS = [os.environ.get("WEBSITE_HOSTNAME", "localhost"), "localhost", "127.0.0.1"]',
        'ALLOWED_HOSTS = [os.environ["WEBSITE_HOSTNAME"]]',
    )
    assert strict != text
    d = deploy(app, zip_sample("django_app", {"mysite/settings.py": strict}))
    assert d.status == Deployment.Status.SUCCESS, d.log
    assert "Health check: GET / answered 200" in d.log


def test_a_404_is_not_healthy_by_default_but_the_path_and_statuses_are_configurable(make_app):
    app = make_app()
    failed = deploy(app, zip_files({"app.py": APP}))
    assert failed.status == Deployment.Status.FAILED
    assert "answered 404 (healthy is 200-399" in failed.log

    config.set_app_settings(
        app, [config.SettingInput("WEBSITE_WARMUP_STATUSES", "any")], restart=False
    )
    anything = deploy(app, zip_files({"app.py": APP}))
    assert anything.status == Deployment.Status.SUCCESS, anything.log
    assert "GET / answered 404" in anything.log

    config.delete_app_settings(app, ["WEBSITE_WARMUP_STATUSES"], restart=False)
    config.update_general_settings(app, health_check_path="/healthz", restart=False)
    app.refresh_from_db()
    on_path = deploy(app, zip_files({"app.py": APP}))
    assert on_path.status == Deployment.Status.SUCCESS, on_path.log
    assert "GET /healthz answered 200" in on_path.log


def test_the_periodic_check_restarts_an_instance_that_keeps_failing(make_app, settings):
    import requests

    settings.BERTH_HEALTH_FAILURES = 2
    app = make_app(health_check_path="/healthz")
    d = deploy(app, zip_files({"app.py": APP}))
    assert d.status == Deployment.Status.SUCCESS, d.log
    assert health.check(app) == ""  # healthy: nothing recorded
    assert not HealthEvent.objects.filter(app=app).exists()
    session = requests.Session()
    session.trust_env = False
    session.get(f"http://127.0.0.1:{d.host_port}/break", timeout=10)
    first = health.check(app)
    assert "failed (1 of 2 in a row)" in first
    second = health.check(app)
    assert "restarted" in second
    kinds = list(HealthEvent.objects.filter(app=app).values_list("kind", "ok"))
    assert kinds == [("restarted", True), ("failed", False), ("failed", False)]
    assert health.check(app) == ""  # the new container is healthy
    event = HealthEvent.objects.filter(app=app, kind="failed").first()
    assert event.status_code == 503 and "GET /healthz answered 503" in event.detail
    assert django_settings.CELERY_BEAT_SCHEDULE["berth-health"]["task"] == (
        "deployments.health_check_all"
    )
