"""The Overview: state, URL, Python version, the startup command in effect and
why, last deployment, Start/Stop/Restart with a question, CPU/memory charts."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.engine.client import ContainerStats
from apps.engine.errors import EngineUnavailable
from apps.logs import metrics
from apps.logs.models import AppMetric
from apps.webapps.models import Operation, WebApp

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/apps/hello-flask/"
HX = {"HTTP_HX_REQUEST": "true"}
FLASK = {
    "rule": "flask",
    "reason": "found app.py",
    "command": "gunicorn --bind=0.0.0.0:$PORT --timeout 600 app:app",
    "looked_for": ["Django: <folder>/wsgi.py", "Flask: app.py"],
}


@pytest.fixture(autouse=True)
def container_state():
    # The Overview inspects the serving container; here there is no engine.
    with mock.patch.object(
        engine, "container_state", autospec=True, side_effect=EngineUnavailable("no engine")
    ) as state:
        yield state


@pytest.fixture
def power_task():
    with mock.patch("apps.deployments.tasks.power.delay_on_commit") as delay:
        yield delay


@pytest.fixture
def active(webapp):
    return Deployment.objects.create(
        app=webapp,
        status="success",
        active=True,
        image="berth/app-hello-flask:1",
        container="berth-hello-flask-1",
        startup=FLASK,
        message="Add the home page",
    )


def test_it_requires_login(client, webapp):
    assert client.get(URL).status_code == 302


def test_it_hides_other_users_apps(client, bob, webapp):
    client.force_login(bob)
    assert client.get(URL).status_code == 404
    assert client.post(URL + "power/stop/", {"confirmed": "1"}).status_code == 404


def test_it_shows_state_url_python_and_nothing_deployed(alice_client, webapp, settings):
    settings.BERTH_APPS_DOMAIN = "apps.example.test"
    settings.BERTH_PROXY_HTTP_PORT = 8080
    html = alice_client.get(URL).content.decode()
    assert "badge badge-running" in html
    assert 'href="http://hello-flask.apps.example.test:8080/"' in html
    assert "Python 3.11" in html
    assert "Nothing is deployed yet" in html
    assert "/apps/hello-flask/deployment-center/" in html


def test_it_shows_the_detected_startup_command_and_its_rule(alice_client, webapp, active):
    html = alice_client.get(URL).content.decode()
    assert "gunicorn --bind=0.0.0.0:$PORT --timeout 600 app:app" in html
    assert "Detected flask: found app.py" in html
    assert f"/apps/hello-flask/deployment-center/{active.pk}/" in html
    assert "Add the home page" in html


def test_a_custom_startup_command_is_in_effect_with_its_fallback(alice_client, webapp, active):
    WebApp.objects.filter(pk=webapp.pk).update(app_command_line="gunicorn --workers 4 app:app")
    html = alice_client.get(URL).content.decode()
    assert '<code class="command">gunicorn --workers 4 app:app</code>' in html
    assert "Custom startup command" in html
    assert "Falls back to" in html


def test_it_shows_the_container_state_from_the_engine(
    alice_client, webapp, active, container_state
):
    from apps.engine.client import ContainerState

    container_state.side_effect = None
    container_state.return_value = ContainerState(
        "berth-hello-flask-1", "running", 0, False, 2, "", "", "", "", {}
    )
    html = alice_client.get(URL).content.decode()
    assert "berth-hello-flask-1" in html and "badge badge-running" in html
    assert "restarted 2×" in html


def test_stop_asks_first_without_javascript(alice_client, webapp):
    response = alice_client.post(URL + "power/stop/")
    assert response.status_code == 302 and response["Location"] == URL + "?confirm=stop"
    html = alice_client.get(URL + "?confirm=stop").content.decode()
    assert "Yes, stop" in html
    webapp.refresh_from_db()
    assert webapp.state == "Running"


def test_stop_goes_to_a_worker_with_its_operation_and_audits(alice_client, webapp, power_task):
    response = alice_client.post(URL + "power/stop/", {"confirmed": "1"})
    assert response.status_code == 302
    op = Operation.objects.get(app=webapp)
    assert (op.trigger, op.status, op.actor_name) == ("stop", "queued", "alice")
    power_task.assert_called_once_with(app_id=webapp.pk, action="stop", operation_id=op.pk)
    assert AuditEvent.objects.filter(app=webapp, action="app.stop", actor_name="alice").exists()


def test_restart_goes_to_a_worker(alice_client, webapp, power_task):
    response = alice_client.post(URL + "power/restart/", {"confirmed": "1"}, **HX)
    assert response.status_code == 200 and response["HX-Redirect"] == URL
    op = Operation.objects.get(app=webapp)
    assert op.trigger == "restart"
    power_task.assert_called_once_with(app_id=webapp.pk, action="restart", operation_id=op.pk)
    html = alice_client.get(URL).content.decode()
    assert "Restarting hello-flask" in html
    assert 'id="operation"' in html and f"/operations/{op.pk}/?reload=1" in html


def test_a_stopped_app_offers_start(alice_client, webapp, power_task):
    WebApp.objects.filter(pk=webapp.pk).update(state="Stopped")
    html = alice_client.get(URL).content.decode()
    assert "/power/start/" in html and "/power/stop/" not in html
    alice_client.post(URL + "power/start/", {"confirmed": "1"})
    op = Operation.objects.get(app=webapp, trigger="start")
    power_task.assert_called_once_with(app_id=webapp.pk, action="start", operation_id=op.pk)


def test_unknown_actions_are_not_found(alice_client, webapp):
    assert alice_client.post(URL + "power/explode/", {"confirmed": "1"}).status_code == 404


def test_the_power_task_calls_the_deploy_services(webapp):
    from apps.deployments import tasks

    with mock.patch("apps.lifecycle.operations.restart_app", autospec=True) as restart:
        tasks.power(app_id=webapp.pk, action="restart")
    restart.assert_called_once()
    with mock.patch("apps.lifecycle.operations.start_app", autospec=True) as start:
        tasks.power(app_id=webapp.pk, action="start")
    start.assert_called_once()


def test_the_charts_draw_the_last_hour(alice_client, webapp):
    now = timezone.now()
    for minutes, cpu in ((50, 1.0), (30, 12.5), (1, 3.0)):
        AppMetric.objects.create(
            app=webapp,
            at=now - timedelta(minutes=minutes),
            cpu_percent=cpu,
            memory_bytes=50 * 1024 * 1024,
            memory_limit=1024**3,
        )
    AppMetric.objects.create(
        app=webapp, at=now - timedelta(hours=2), cpu_percent=99, memory_bytes=1
    )
    html = alice_client.get(URL).content.decode()
    assert "<polyline" in html
    assert "3.0 %" in html and "peak 12.5 %" in html
    assert "50.0 MiB" in html
    assert "3 samples" in html


def test_the_charts_partial_samples_when_stale(alice_client, webapp, active):
    stats = ContainerStats(cpu_percent=7.25, memory_bytes=30 * 1024 * 1024, memory_limit=1024**3)
    with mock.patch.object(engine, "container_stats", autospec=True, return_value=stats) as s:
        response = alice_client.get(URL + "overview/charts/", **HX)
        alice_client.get(URL + "overview/charts/", **HX)  # fresh: no second sample
    html = response.content.decode()
    assert html.strip().startswith('<section class="card" id="charts"')
    assert "7.2 %" in html or "7.3 %" in html
    s.assert_called_once_with("berth-hello-flask-1")
    assert AppMetric.objects.filter(app=webapp).count() == 1


def test_no_samples_shows_an_empty_chart(alice_client, webapp):
    html = alice_client.get(URL).content.decode()
    assert "No samples yet" in html


def test_sampling_forgets_samples_older_than_an_hour(webapp, active):
    AppMetric.objects.create(
        app=webapp, at=timezone.now() - timedelta(minutes=61), cpu_percent=1, memory_bytes=1
    )
    stats = ContainerStats(cpu_percent=1.0, memory_bytes=2, memory_limit=3)
    with mock.patch.object(engine, "container_stats", autospec=True, return_value=stats):
        assert metrics.sample(webapp) is not None
    assert AppMetric.objects.filter(app=webapp).count() == 1


def test_a_stopped_app_is_not_sampled(webapp, active):
    WebApp.objects.filter(pk=webapp.pk).update(state="Stopped")
    webapp.refresh_from_db()
    with mock.patch.object(engine, "container_stats", autospec=True) as s:
        assert metrics.sample(webapp) is None
    s.assert_not_called()
