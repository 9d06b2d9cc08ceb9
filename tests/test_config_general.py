"""General settings: stack and version from the runtime catalog, startup
command, health check path; Save asks, then restarts."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.test import Client

from apps.engine.runtimes import Runtime, Status
from apps.pages.config import _runtime_catalog
from apps.webapps.models import Operation, WebApp

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/apps/hello-flask/configuration/general/"
CATALOG = [
    Runtime("3.11", Status.READY),
    Runtime("3.12", Status.BUILDABLE, "pull python:3.12-slim"),
    Runtime("3.13", Status.UNAVAILABLE, "no Debian suite"),
]


@pytest.fixture(autouse=True)
def restart():
    with mock.patch("apps.deployments.tasks.restart.delay") as delay:
        yield delay


@pytest.fixture(autouse=True)
def catalog():
    with mock.patch("apps.engine.runtimes.catalog", return_value=CATALOG) as c:
        yield c


def post(**data):
    return {
        "linux_fx_version": "PYTHON|3.11",
        "app_command_line": "",
        "health_check_path": "",
        **data,
    }


def test_it_requires_login(client, webapp):
    assert client.get(URL).status_code == 302


def test_it_hides_other_users_apps(client, bob, webapp):
    client.force_login(bob)
    assert client.get(URL).status_code == 404


def test_the_version_dropdown_shows_each_versions_status(alice_client, webapp):
    html = alice_client.get(URL).content.decode()
    assert '<option value="PYTHON|3.11" selected>Python 3.11 (ready)</option>' in html
    assert "Python 3.12 (can be built)" in html
    assert "Python 3.13 (unavailable)" in html


def test_it_still_works_when_the_catalog_fails(alice_client, webapp, catalog):
    catalog.side_effect = RuntimeError("engine down")
    html = alice_client.get(URL).content.decode()
    assert "runtime catalog is unavailable" in html
    assert "Python 3.14 (status unknown)" in html


def test_a_slow_catalog_does_not_hang_the_page(catalog):
    catalog.side_effect = lambda: time.sleep(2) or CATALOG
    started = time.monotonic()
    runtimes, notice = _runtime_catalog(timeout=0.2)
    assert time.monotonic() - started < 1
    assert "did not answer" in notice
    assert {rt.status for rt in runtimes} == {"status unknown"}


def test_save_asks_first_and_lists_the_changes(alice_client, webapp, restart):
    response = alice_client.post(URL, post(app_command_line="gunicorn app:app"))
    html = response.content.decode()
    assert "Save and restart" in html
    assert "gunicorn app:app" in html
    webapp.refresh_from_db()
    assert webapp.app_command_line == ""


def test_it_saves_and_restarts_with_visible_status(
    alice_client, webapp, restart, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            URL,
            post(
                linux_fx_version="PYTHON|3.12",
                app_command_line="gunicorn --bind=0.0.0.0 app:app",
                health_check_path="/healthz",
                confirmed="1",
            ),
        )
    assert response.status_code == 302
    webapp.refresh_from_db()
    assert (webapp.linux_fx_version, webapp.app_command_line, webapp.health_check_path) == (
        "PYTHON|3.12",
        "gunicorn --bind=0.0.0.0 app:app",
        "/healthz",
    )
    op = Operation.objects.get(app=webapp)
    assert response["Location"] == f"{URL}?operation={op.pk}"
    assert (op.trigger, op.status, op.actor_name) == ("general", "queued", "alice")
    assert "linux_fx_version" in op.reason
    restart.assert_called_once_with(app_id=webapp.pk, reason=op.reason, operation_id=op.pk)
    page = alice_client.get(response["Location"]).content.decode()
    assert "Restarting hello-flask" in page
    # The restart's own status: a badge with a spinner, polled while it runs.
    assert 'id="operation-status"' in page and 'class="spinner small"' in page
    assert f'hx-get="/apps/hello-flask/operations/{op.pk}/"' in page


def test_an_htmx_save_answers_with_a_client_redirect(alice_client, webapp):
    response = alice_client.post(
        URL, post(app_command_line="x", confirmed="1"), headers={"HX-Request": "true"}
    )
    op = Operation.objects.get(app=webapp)
    assert response["HX-Redirect"] == f"{URL}?operation={op.pk}"


def test_nothing_changed_means_no_restart(alice_client, webapp, restart):
    response = alice_client.post(URL, post(confirmed="1"), follow=True)
    assert b"Nothing to save" in response.content
    restart.assert_not_called()


def test_errors_show_at_the_field(alice_client, webapp):
    html = alice_client.post(URL, post(health_check_path="healthz", confirmed="1")).content.decode()
    assert "Start the path with &#x27;/&#x27;: try &#x27;/healthz&#x27;." in html
    html = alice_client.post(URL, post(linux_fx_version="NODE|20", confirmed="1")).content.decode()
    assert "Select a valid choice" in html
    webapp.refresh_from_db()
    assert webapp.health_check_path == ""


def test_a_stopped_app_is_not_restarted(
    alice_client, webapp, restart, django_capture_on_commit_callbacks
):
    WebApp.objects.filter(pk=webapp.pk).update(state=WebApp.State.STOPPED)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(URL, post(app_command_line="x", confirmed="1"), follow=True)
    assert b"is stopped" in response.content
    restart.assert_not_called()


def test_the_form_enforces_csrf(alice, webapp):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(URL, post(app_command_line="x", confirmed="1")).status_code == 403
