"""The API's view of restarts: start/stop/restart answer with the operation
and its steps, GET /api/apps/<name>/operations[/<id>] reads them, a failed
restart is a 409 with the reason and which container still serves, and the
OpenAPI document describes all of it."""

# The fixtures come from tests.apiutil; test arguments naming them are not redefinitions.
# ruff: noqa: F811
from __future__ import annotations

import pytest

from apps.webapps import operations
from apps.webapps.models import Operation
from tests.apiutil import alice_token, api, bob_api  # noqa: F401
from tests.operations_helpers import FakeEngine, serving_release

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def fake(monkeypatch, settings, tmp_path) -> FakeEngine:
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False
    settings.BERTH_START_TIME_LIMIT = 2
    return FakeEngine().install(monkeypatch)


@pytest.fixture
def deployed(api, fake):
    api.put("/api/apps/hello")
    from apps.webapps.models import WebApp

    app = WebApp.objects.get(name="hello")
    d = serving_release(app)
    fake.containers[d.container] = "running"
    return app, d


def test_a_restart_answers_with_its_operation_and_steps(api, deployed, fake):
    r = api.post("/api/apps/hello/restart")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["name"], body["state"]) == ("hello", "Running")
    op = body["operation"]
    assert (op["kind"], op["trigger"], op["status"], op["actor"]) == (
        "restart",
        "restart",
        "succeeded",
        "alice",
    )
    assert [(s["name"], s["status"]) for s in op["steps"]] == [
        ("start", "done"),
        ("health", "done"),
        ("switch", "done"),
        ("retire", "done"),
    ]
    assert op["serving"] == fake.created[0] and op["message"] == body["message"]
    again = api.get(f"/api/apps/hello/operations/{op['id']}")
    assert again.status_code == 200 and again.json() == op


def test_a_failed_restart_is_a_conflict_with_the_operation(api, deployed, fake):
    _, d = deployed
    fake.healthy = False
    fake.app_log = ["Traceback (most recent call last):", "ImportError: no app"]
    r = api.post("/api/apps/hello/restart")
    assert r.status_code == 409
    body = r.json()
    assert body["error"]["code"] == "OperationFailed"
    assert "before answering HTTP" in body["error"]["message"]
    op = body["operation"]
    assert op["status"] == "failed" and op["serving"] == d.container
    assert ("health", "failed") in [(s["name"], s["status"]) for s in op["steps"]]
    assert "ImportError: no app" in op["appLog"]


def test_stop_and_start_answer_with_their_operations(api, deployed, fake):
    stop = api.post("/api/apps/hello/stop").json()
    assert stop["state"] == "Stopped"
    assert [s["name"] for s in stop["operation"]["steps"]] == ["switch", "retire"]
    start = api.post("/api/apps/hello/start").json()
    assert start["state"] == "Running" and start["operation"]["trigger"] == "start"
    assert start["operation"]["status"] == "succeeded"


def test_it_lists_the_latest_operations_newest_first(api, deployed):
    app, _ = deployed
    first = operations.begin(app, Operation.Trigger.SETTINGS)
    second = operations.begin(app, Operation.Trigger.GENERAL)
    r = api.get("/api/apps/hello/operations")
    assert r.status_code == 200
    assert [o["id"] for o in r.json()] == [second.pk, first.pk]
    assert r.json()[0]["status"] == "queued"


def test_an_unknown_operation_is_not_found_and_says_where_to_look(api, deployed):
    r = api.get("/api/apps/hello/operations/999999")
    assert r.status_code == 404
    assert "GET /api/apps/hello/operations" in r.json()["error"]["message"]
    assert api.get(f"/api/apps/hello/operations/{2**70}").status_code == 404


def test_other_users_cannot_read_them(api, bob_api, deployed):
    app, _ = deployed
    op = operations.begin(app, Operation.Trigger.RESTART)
    assert bob_api.get(f"/api/apps/hello/operations/{op.pk}").status_code == 404
    assert bob_api.get("/api/apps/hello/operations").status_code == 404


def test_the_openapi_document_describes_them(api):
    doc = api.get("/api/openapi.json").json()
    assert "/api/apps/{name}/operations" in doc["paths"]
    assert "/api/apps/{name}/operations/{id}" in doc["paths"]
    schemas = doc["components"]["schemas"]
    assert schemas["LifecycleResult"]["properties"]["operation"] == {
        "$ref": "#/components/schemas/Operation"
    }
    assert set(schemas["Operation"]["properties"]) >= {"id", "status", "steps", "serving"}
    restart = doc["paths"]["/api/apps/{name}/restart"]["post"]["responses"]["409"]
    assert restart["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OperationFailed"
    }
