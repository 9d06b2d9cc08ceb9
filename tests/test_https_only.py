# The fixtures come from tests.apiutil; test arguments naming them are not redefinitions.
# ruff: noqa: F811
"""HTTPS Only (App Service's httpsOnly): General settings, the API
(`az webapp update --https-only`), the service and reconcile, with the
proxy faked; tests/test_proxy_nginx.py and the deploy matrix run the real
nginx."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from apps.access.models import RoleAssignment
from apps.audit.models import AuditEvent
from apps.lifecycle import reconcile
from apps.proxy.errors import ProxyError
from apps.webapps import services
from apps.webapps.models import Operation, WebApp
from tests.apiutil import alice_token, api, bob_api, error_code  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/apps/hello-flask/configuration/general/"


@pytest.fixture
def proxy(settings):
    """The front proxy's HTTPS Only set, in memory."""
    settings.BERTH_PROXY_ROUTING = True
    chosen: set[str] = set()

    def set_https_only(name: str, on: bool) -> None:
        (chosen.add if on else chosen.discard)(name)

    with (
        mock.patch("apps.proxy.nginx.set_https_only", side_effect=set_https_only) as call,
        mock.patch("apps.proxy.nginx.https_only_apps", side_effect=lambda: set(chosen)),
    ):
        call.chosen = chosen
        yield call


@pytest.fixture(autouse=True)
def restart():
    with mock.patch("apps.deployments.tasks.restart.delay") as delay:
        yield delay


def form(**data):
    return {
        "linux_fx_version": "PYTHON|3.11",
        "app_command_line": "",
        "health_check_path": "",
        **data,
    }


def test_turning_it_on_tells_the_proxy_and_does_not_restart(webapp, alice, proxy, restart):
    saved = services.update_general_settings(webapp, https_only=True, actor=alice)
    assert saved.changed == ["https_only"]
    assert saved.rebuild_id is None
    webapp.refresh_from_db()
    assert webapp.https_only
    assert proxy.chosen == {"hello-flask"}
    assert not Operation.objects.filter(app=webapp).exists()
    restart.assert_not_called()
    event = AuditEvent.objects.get(app=webapp, action=AuditEvent.Action.GENERAL_SETTINGS)
    assert (event.before, event.after) == ({"https_only": False}, {"https_only": True})
    assert "httpsOnly" in event.summary


def test_with_another_change_the_app_restarts_once(webapp, alice, proxy, restart):
    services.update_general_settings(
        webapp, https_only=True, app_command_line="gunicorn app:app", actor=alice
    )
    assert Operation.objects.filter(app=webapp).count() == 1


def test_a_refusal_by_the_proxy_saves_nothing(webapp, alice, proxy):
    proxy.side_effect = ProxyError("nginx -t failed: port in use")
    with pytest.raises(ValidationError, match="did not take HTTPS Only: nginx -t failed"):
        services.update_general_settings(webapp, https_only=True, actor=alice)
    webapp.refresh_from_db()
    assert not webapp.https_only
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.GENERAL_SETTINGS).exists()


def test_the_page_asks_without_promising_a_restart_then_saves(alice_client, webapp, proxy):
    page = alice_client.get(URL).content.decode()
    assert "HTTPS Only" in page and 'name="https_only"' in page
    asked = alice_client.post(URL, form(https_only="on")).content.decode()
    assert "does not restart" in asked and "Save and restart" not in asked
    assert "<code>Off</code>" in asked and "<code>On</code>" in asked
    done = alice_client.post(URL, form(https_only="on", confirmed="1"), follow=True)
    assert "the front proxy applied it at once, with no restart" in done.content.decode()
    webapp.refresh_from_db()
    assert webapp.https_only and proxy.chosen == {"hello-flask"}
    assert not Operation.objects.filter(app=webapp).exists()
    # Unticked (a checkbox sends nothing): off again.
    alice_client.post(URL, form(confirmed="1"))
    webapp.refresh_from_db()
    assert not webapp.https_only and proxy.chosen == set()


def test_the_page_shows_a_proxy_refusal_and_keeps_the_setting(alice_client, webapp, proxy):
    proxy.side_effect = ProxyError("the proxy is not configured")
    page = alice_client.post(URL, form(https_only="on", confirmed="1")).content.decode()
    assert "did not take HTTPS Only: the proxy is not configured" in page
    webapp.refresh_from_db()
    assert not webapp.https_only


def test_the_api_updates_it_as_az_webapp_update(api, proxy):
    api.put("/api/apps/hello")
    assert api.get("/api/apps/hello").json()["httpsOnly"] is False
    r = api.patch("/api/apps/hello", {"httpsOnly": True})
    assert r.status_code == 200, r.content
    assert r.json()["httpsOnly"] is True
    assert proxy.chosen == {"hello"}
    assert error_code(api.patch("/api/apps/hello", {"httpsOnly": "yes"})) == "InvalidProperty"
    assert error_code(api.patch("/api/apps/hello", {"clientAffinityEnabled": True})) == (
        "UnknownProperty"
    )
    proxy.side_effect = ProxyError("nginx is down")
    r = api.patch("/api/apps/hello", {"httpsOnly": False})
    assert r.status_code == 503 and "nginx is down" in r.json()["error"]["message"]
    assert api.get("/api/apps/hello").json()["httpsOnly"] is True


def test_a_reader_cannot_change_it(api, bob_api, proxy, bob):
    api.put("/api/apps/hello")
    RoleAssignment.objects.create(app=WebApp.objects.get(name="hello"), user=bob, role="Reader")
    r = bob_api.patch("/api/apps/hello", {"httpsOnly": True})
    assert r.status_code == 403
    assert proxy.chosen == set()


def test_reconcile_makes_the_proxy_match_the_saved_choice(webapp, proxy):
    WebApp.objects.filter(pk=webapp.pk).update(https_only=True)
    webapp.refresh_from_db()
    assert reconcile._sync_https_only(webapp) == ["hello-flask: HTTPS Only on at the proxy"]
    assert proxy.chosen == {"hello-flask"}
    assert reconcile._sync_https_only(webapp) == []
