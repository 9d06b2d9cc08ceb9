"""The restart's status on the Overview and the Configuration pages: a badge
and a step progress bar, polled by htmx every second while it runs (286 stops
it), and the same state drawn whole for a page without JavaScript."""

from __future__ import annotations

from unittest import mock

import pytest

from apps.engine import client as engine
from apps.engine.errors import EngineUnavailable
from apps.lifecycle import operations as lifecycle_ops
from apps.webapps import operations
from apps.webapps.models import Operation, WebApp

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

HX = {"HTTP_HX_REQUEST": "true"}
OVERVIEW = "/apps/hello-flask/"
CONFIG = "/apps/hello-flask/configuration/"
GENERAL = "/apps/hello-flask/configuration/general/"


@pytest.fixture(autouse=True)
def _no_engine():
    with mock.patch.object(
        engine, "container_state", autospec=True, side_effect=EngineUnavailable("no engine")
    ):
        yield


@pytest.fixture
def running(webapp, alice) -> Operation:
    op = operations.begin(webapp, Operation.Trigger.SETTINGS, actor=alice, reason="x")
    recorder = lifecycle_ops.Recorder.claim(op)
    recorder("start", "done", "berth-hello-flask-1-abc on 127.0.0.1:41000")
    recorder("health", "running", "GET /")
    op.refresh_from_db()
    return op


def url(op: Operation) -> str:
    return f"/apps/hello-flask/operations/{op.pk}/"


def test_the_partial_polls_every_second_while_it_runs(alice_client, running):
    response = alice_client.get(url(running), **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith("<section") and "<html" not in html
    assert f'hx-get="{url(running)}"' in html and 'hx-trigger="every 1s"' in html
    assert 'id="operation-status"' in html and "Running" in html
    assert 'data-step="start" data-status="done"' in html
    assert 'data-step="health" data-status="running" aria-current="step"' in html
    assert "Waiting for HTTP (health check)…" in html
    assert 'aria-valuenow="38"' in html
    assert "berth-hello-flask-1-abc on 127.0.0.1:41000" in html
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_a_finished_operation_stops_the_polling(alice_client, running):
    lifecycle_ops.Recorder(running).succeed("Restarted: serving from berth-hello-flask-1-abc.")
    response = alice_client.get(url(running), **HX)
    assert response.status_code == 286
    html = response.content.decode()
    assert "hx-trigger" not in html
    assert "Succeeded" in html and 'class="progressbar done"' in html
    assert 'aria-valuenow="100"' in html
    assert "HX-Refresh" not in response


def test_the_overview_reloads_when_it_ends(alice_client, running):
    lifecycle_ops.Recorder(running).succeed("Restarted.")
    response = alice_client.get(url(running) + "?reload=1", **HX)
    assert response.status_code == 286 and response["HX-Refresh"] == "true"


def test_a_failed_restart_says_why_and_that_the_previous_container_serves(alice_client, running):
    lifecycle_ops.Recorder(running).fail(
        "start_timeout",
        "Container berth-hello-flask-1-abc didn't respond to HTTP pings on port: 8000",
        app_log="ModuleNotFoundError: No module named 'flask_sqlalchemy'",
        serving="berth-hello-flask-1",
    )
    html = alice_client.get(url(running), **HX).content.decode()
    assert "Failed" in html and 'class="progressbar failed"' in html
    assert "The restart failed:" in html and "didn&#x27;t respond to HTTP pings" in html
    assert "The previous container <code>berth-hello-flask-1</code> is still serving" in html
    assert "The new settings are saved but not in effect" in html
    assert "No module named &#x27;flask_sqlalchemy&#x27;" in html
    assert "Failed at: Waiting for HTTP (health check)" in html
    assert "Cause: <code>start_timeout</code>" in html


def test_a_failed_start_says_nothing_serves(alice_client, webapp):
    op = operations.begin(webapp, Operation.Trigger.START)
    lifecycle_ops.Recorder.claim(op).fail("runtime_missing", "The runtime image is gone.")
    html = alice_client.get(url(op), **HX).content.decode()
    assert "The start failed:" in html and "No container is serving hello-flask now" in html


def test_without_javascript_it_is_a_page_with_the_current_state(alice_client, running):
    response = alice_client.get(url(running))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html and 'id="operation"' in html
    assert "Running" in html and "Waiting for HTTP (health check)" in html
    assert '<noscript><p><a href="">Reload</a> to see how far it got.</p></noscript>' in html


def test_the_overview_shows_the_latest_operation_and_polls_it(alice_client, running):
    html = alice_client.get(OVERVIEW).content.decode()
    assert 'id="operation"' in html and f'hx-get="{url(running)}?reload=1"' in html
    assert "Application settings saved by alice" in html


def test_the_overview_shows_no_panel_before_any_operation(alice_client, webapp):
    assert 'id="operation"' not in alice_client.get(OVERVIEW).content.decode()


def test_the_configuration_pages_show_the_operation_their_save_started(alice_client, running):
    lifecycle_ops.Recorder(running).succeed("Restarted.")
    for page in (CONFIG, GENERAL):
        with mock.patch("apps.engine.runtimes.catalog", return_value=[]):
            shown = alice_client.get(f"{page}?operation={running.pk}").content.decode()
            plain = alice_client.get(page).content.decode()
        assert 'id="operation"' in shown and "Succeeded" in shown
        # Finished and not asked for: the page is as before.
        assert 'id="operation"' not in plain


def test_the_configuration_pages_show_a_restart_still_under_way(alice_client, running):
    html = alice_client.get(CONFIG).content.decode()
    assert 'id="operation"' in html and 'hx-trigger="every 1s"' in html


def test_another_apps_operation_is_not_found(alice_client, alice, running):
    other = WebApp.objects.create(name="other-app", owner=alice)
    assert alice_client.get(f"/apps/{other.name}/operations/{running.pk}/").status_code == 404
    shown = alice_client.get(f"/apps/{other.name}/configuration/?operation={running.pk}")
    assert 'id="operation"' not in shown.content.decode()


def test_it_hides_other_users_apps(client, bob, running):
    client.force_login(bob)
    assert client.get(url(running)).status_code == 404


def test_a_huge_id_is_not_found(alice_client, webapp):
    assert alice_client.get(f"/apps/hello-flask/operations/{2**70}/").status_code == 404
