# The fixtures come from tests.apiutil; test arguments naming them are not redefinitions.
# ruff: noqa: F811
from __future__ import annotations

from unittest import mock

import pytest

from apps.audit.models import AuditEvent
from apps.engine.errors import EngineUnavailable
from apps.lifecycle import operations as lifecycle_ops
from apps.lifecycle.operations import Outcome
from apps.webapps.models import WebApp
from tests.apiutil import alice_token, api, bob_api, error_code  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_it_creates_an_app_as_az_webapp_create(api, alice):
    r = api.put("/api/apps/hello", {"resourceGroup": "demo", "runtime": "PYTHON:3.13"})
    assert r.status_code == 201
    site = r.json()
    assert site["name"] == "hello"
    assert site["resourceGroup"] == "demo"
    assert site["kind"] == "app,linux"
    assert site["state"] == "Running"
    assert site["siteConfig"]["linuxFxVersion"] == "PYTHON|3.13"
    assert site["id"].endswith("/resourceGroups/demo/providers/Microsoft.Web/sites/hello")
    app = WebApp.objects.get(name="hello")
    assert app.owner == alice
    assert AuditEvent.objects.filter(app=app, actor=alice).exists()


def test_it_defaults_the_runtime_and_group(api):
    r = api.put("/api/apps/hello")
    assert r.status_code == 201
    assert r.json()["siteConfig"]["linuxFxVersion"] == "PYTHON|3.11"
    assert r.json()["resourceGroup"] == "default"


def test_creating_again_in_the_same_group_returns_the_app(api):
    api.put("/api/apps/hello", {"resourceGroup": "demo"})
    r = api.put("/api/apps/hello", {"resourceGroup": "demo"})
    assert r.status_code == 200
    assert WebApp.objects.count() == 1


def test_it_refuses_the_same_name_in_another_group(api):
    api.put("/api/apps/hello", {"resourceGroup": "demo"})
    r = api.put("/api/apps/hello", {"resourceGroup": "other"})
    assert r.status_code == 409
    assert "-g demo" in r.json()["error"]["message"]


def test_it_refuses_a_name_someone_else_has(api, bob_api):
    api.put("/api/apps/hello")
    r = bob_api.put("/api/apps/hello")
    assert r.status_code == 409
    assert error_code(r) == "NameTaken"


@pytest.mark.parametrize(
    "name, body, fragment",
    [
        ("Hello", {}, "lowercase"),
        ("-x-", {}, "hyphen"),
        ("hello", {"runtime": "NODE|18"}, "PYTHON|3.11"),
        ("hello", {"linuxFxVersion": "PYTHON|2.7"}, "not a runtime"),
        ("hello", {"resourceGroup": "bad group!"}, "resource group"),
        ("hello", {"resourceGroup": 5}, "must be a string"),
        ("hello", {"plan": "B1"}, "Unknown"),
    ],
)
def test_it_says_what_to_fix_in_a_bad_create(api, name, body, fragment):
    r = api.put(f"/api/apps/{name}", body)
    assert r.status_code == 422, r.content
    assert fragment in r.json()["error"]["message"]
    assert not WebApp.objects.exists()


def test_it_lists_only_the_users_apps(api, bob_api):
    api.put("/api/apps/one", {"resourceGroup": "a"})
    api.put("/api/apps/two", {"resourceGroup": "b"})
    bob_api.put("/api/apps/bobs")
    assert [s["name"] for s in api.get("/api/apps").json()] == ["one", "two"]
    assert [s["name"] for s in api.get("/api/apps?resourceGroup=B").json()] == ["two"]
    assert [s["name"] for s in bob_api.get("/api/apps").json()] == ["bobs"]


def test_it_shows_an_app_and_hides_others(api, bob_api):
    api.put("/api/apps/hello", {"resourceGroup": "demo"})
    assert api.get("/api/apps/hello").json()["defaultHostName"].startswith("hello.")
    assert api.get("/api/apps/hello?resourceGroup=demo").status_code == 200
    r = api.get("/api/apps/hello?resourceGroup=other")
    assert r.status_code == 404
    assert "resource group 'other'" in r.json()["error"]["message"]
    assert bob_api.get("/api/apps/hello").status_code == 404
    assert error_code(bob_api.get("/api/apps/hello")) == "ResourceNotFound"


def test_it_deletes_an_app_and_what_it_left_on_the_engine(api):
    from apps.deployments import teardown

    api.put("/api/apps/hello")
    with mock.patch.object(
        teardown, "remove_everything", autospec=True, return_value=teardown.Removed()
    ) as remove:
        r = api.delete("/api/apps/hello")
    assert r.status_code == 204
    assert remove.call_count == 1
    assert not WebApp.objects.exists()
    assert api.delete("/api/apps/hello").status_code == 404


def test_deleting_a_never_deployed_app_goes_on_when_the_engine_is_down(api):
    api.put("/api/apps/hello")
    with mock.patch(
        "apps.engine.client.find_containers", side_effect=EngineUnavailable("The engine is down.")
    ):
        assert api.delete("/api/apps/hello").status_code == 204
    assert not WebApp.objects.exists()


def test_deleting_a_deployed_app_waits_for_the_engine_and_can_be_retried(api):
    from apps.deployments.models import Deployment

    api.put("/api/apps/hello")
    Deployment.objects.create(app=WebApp.objects.get(name="hello"), status="success")
    with mock.patch(
        "apps.engine.client.find_containers", side_effect=EngineUnavailable("The engine is down.")
    ):
        r = api.delete("/api/apps/hello")
    assert r.status_code == 503
    assert error_code(r) == "DeleteIncomplete"
    assert "hello is stopped but not deleted: The engine is down." in r.json()["error"]["message"]
    assert "Delete it again" in r.json()["error"]["message"]
    assert WebApp.objects.get(name="hello").state == WebApp.State.STOPPED
    # The Activity log says it was stopped on the way, and why it is still there.
    (event,) = AuditEvent.objects.filter(action="app.delete")
    assert event.before == {"state": "Running"}
    assert event.after["state"] == "Stopped" and "The engine is down." in event.after["incomplete"]
    assert event.summary.startswith("Delete of hello did not finish; the app is stopped")
    with (
        mock.patch("apps.engine.client.find_containers", return_value=[]),
        mock.patch("apps.engine.client.find_images", return_value=[]),
        mock.patch("apps.engine.client.find_volumes", return_value=[]),
    ):
        assert api.delete("/api/apps/hello").status_code == 204
    assert not WebApp.objects.exists()
    assert AuditEvent.objects.filter(action="app.delete", app_name="hello").count() == 2


def test_it_rejects_other_methods_with_json(api):
    r = api.post("/api/apps/hello")
    assert r.status_code == 405
    assert "GET" in r["Allow"]


def test_it_restarts_through_the_deploy_services(api):
    api.put("/api/apps/hello")
    with mock.patch.object(
        lifecycle_ops, "restart_app", autospec=True, return_value=Outcome(True, "Restarted.")
    ) as restart:
        r = api.post("/api/apps/hello/restart")
    assert r.status_code == 200
    assert r.json() == {"name": "hello", "state": "Running", "message": "Restarted."}
    assert restart.call_args.args[0].name == "hello"


def test_a_failed_restart_is_a_conflict_with_the_reason(api):
    api.put("/api/apps/hello")
    with mock.patch.object(
        lifecycle_ops,
        "restart_app",
        autospec=True,
        return_value=Outcome(False, "The container did not answer on port 8000."),
    ):
        r = api.post("/api/apps/hello/restart")
    assert r.status_code == 409
    assert "port 8000" in r.json()["error"]["message"]


def test_an_unreachable_engine_is_a_503(api):
    api.put("/api/apps/hello")
    with mock.patch.object(
        lifecycle_ops,
        "start_app",
        autospec=True,
        side_effect=EngineUnavailable("The Docker engine is not running."),
    ):
        r = api.post("/api/apps/hello/start")
    assert r.status_code == 503
    assert "Docker engine" in r.json()["error"]["message"]


def test_it_stops_and_starts(api):
    api.put("/api/apps/hello")

    def stop(app, **kwargs):
        WebApp.objects.filter(pk=app.pk).update(state=WebApp.State.STOPPED)

    with mock.patch.object(lifecycle_ops, "stop_app", autospec=True, side_effect=stop):
        assert api.post("/api/apps/hello/stop").json()["state"] == "Stopped"
    with mock.patch.object(
        lifecycle_ops, "start_app", autospec=True, return_value=Outcome(True, "Started.")
    ):
        assert api.post("/api/apps/hello/start").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/apps/hel%00lo",
        "/api/apps?resourceGroup=a%00b",
        "/api/apps/hello/appsettings?settingNames=A&settingNames=B%00",
    ],
)
def test_nul_characters_are_a_bad_request_not_a_database_error(api, path):
    api.put("/api/apps/hello")
    assert api.get(path).status_code == 400
    if "settingNames" in path:
        assert api.delete(path).status_code == 400
