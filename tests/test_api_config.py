# The fixtures come from tests.apiutil; test arguments naming them are not redefinitions.
# ruff: noqa: F811
from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.webapps.models import AppSetting, ConnectionString, WebApp
from tests.apiutil import alice_token, api, bob_api, error_code  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def app(api) -> WebApp:
    api.put("/api/apps/hello", {"resourceGroup": "demo"})
    return WebApp.objects.get(name="hello")


def test_it_shows_the_config_as_az_does(api, app):
    config = api.get("/api/apps/hello/config").json()
    assert config["linuxFxVersion"] == "PYTHON|3.11"
    assert config["appCommandLine"] == ""
    assert config["alwaysOn"] is True
    assert config["healthCheckPath"] is None
    assert config["type"] == "Microsoft.Web/sites/config"


def test_it_sets_the_stack_and_startup_command(api, app, alice):
    r = api.patch(
        "/api/apps/hello/config",
        {
            "linuxFxVersion": "python|3.13",
            "appCommandLine": " gunicorn app:app ",
            "healthCheckPath": "/healthz",
        },
    )
    assert r.status_code == 200
    assert r.json()["linuxFxVersion"] == "PYTHON|3.13"
    assert r.json()["appCommandLine"] == "gunicorn app:app"
    assert r.json()["healthCheckPath"] == "/healthz"
    app.refresh_from_db()
    assert app.linux_fx_version == "PYTHON|3.13"
    assert AuditEvent.objects.filter(
        app=app, actor=alice, action=AuditEvent.Action.GENERAL_SETTINGS
    ).exists()


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ({"linuxFxVersion": "PYTHON|9.9"}, 422, "PYTHON|3.11"),
        ({"healthCheckPath": "healthz"}, 422, "'/healthz'"),
        ({"alwaysOn": False}, 422, "linuxFxVersion"),
        ({"appCommandLine": ["x"]}, 422, "string"),
        ([], 400, "object"),
    ],
)
def test_it_says_what_to_fix_in_a_bad_config(api, app, body, status, fragment):
    r = api.patch("/api/apps/hello/config", body)
    assert r.status_code == status
    assert fragment in r.json()["error"]["message"]


def test_it_wants_json(api, app):
    r = api.client.patch(
        "/api/apps/hello/config",
        "a=b",
        content_type="application/x-www-form-urlencoded",
        headers=api.headers,
    )
    assert r.status_code == 415


def test_app_settings_round_trip_with_values_redacted(api, app, alice):
    r = api.patch(
        "/api/apps/hello/appsettings",
        [
            {"name": "DJANGO_DEBUG", "value": "false"},
            {"name": "SECRET", "value": "s3cr3t-value", "slotSetting": True},
        ],
    )
    assert r.status_code == 200
    assert r.json() == [
        {"name": "DJANGO_DEBUG", "slotSetting": False, "value": None},
        {"name": "SECRET", "slotSetting": True, "value": None},
    ]
    assert AppSetting.objects.get(app=app, name="SECRET").value == "s3cr3t-value"
    listed = api.get("/api/apps/hello/appsettings").json()
    assert all(s["value"] is None for s in listed)
    shown = api.get("/api/apps/hello/appsettings?showValues=true").json()
    assert {s["name"]: s["value"] for s in shown}["SECRET"] == "s3cr3t-value"
    # The activity log never keeps the value.
    assert "s3cr3t-value" not in str(list(AuditEvent.objects.values()))

    r = api.delete("/api/apps/hello/appsettings?settingNames=SECRET&settingNames=MISSING")
    assert r.status_code == 200
    assert [s["name"] for s in r.json()] == ["DJANGO_DEBUG"]


def test_put_replaces_all_settings(api, app):
    api.patch(
        "/api/apps/hello/appsettings", [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    )
    r = api.put("/api/apps/hello/appsettings", [{"name": "C", "value": "3"}])
    assert [s["name"] for s in r.json()] == ["C"]


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ({"A": "1"}, 400, "list"),
        ([{"name": "A"}], 422, "'value'"),
        ([{"name": "A B", "value": "1"}], 422, "not a valid setting name"),
        ([{"name": "A", "value": "1"}, {"name": "A", "value": "2"}], 422, "twice"),
        ([{"name": "A", "value": 1}], 422, "string"),
        ([{"name": "A", "value": "1", "slotSetting": "yes"}], 422, "true or false"),
        (["A=1"], 400, "name"),
    ],
)
def test_it_says_what_to_fix_in_bad_settings(api, app, body, status, fragment):
    r = api.patch("/api/apps/hello/appsettings", body)
    assert r.status_code == status, r.content
    assert fragment in r.json()["error"]["message"]
    assert not AppSetting.objects.exists()


def test_delete_needs_names(api, app):
    r = api.delete("/api/apps/hello/appsettings")
    assert r.status_code == 400
    assert "settingNames" in r.json()["error"]["message"]


def test_show_values_must_be_a_boolean(api, app):
    assert api.get("/api/apps/hello/appsettings?showValues=maybe").status_code == 400


def test_connection_strings_round_trip(api, app):
    r = api.patch(
        "/api/apps/hello/connectionstrings",
        [{"name": "DB", "value": "postgres://u:p@h/db", "type": "postgresql"}],
    )
    assert r.status_code == 200
    assert r.json() == [{"name": "DB", "slotSetting": False, "type": "PostgreSQL", "value": None}]
    cs = ConnectionString.objects.get(app=app)
    assert cs.env_name == "POSTGRESQLCONNSTR_DB"
    shown = api.get("/api/apps/hello/connectionstrings?showValues=true").json()
    assert shown[0]["value"] == "postgres://u:p@h/db"
    r = api.delete("/api/apps/hello/connectionstrings?settingNames=DB")
    assert r.json() == []


def test_it_rejects_unknown_connection_string_types(api, app):
    r = api.patch(
        "/api/apps/hello/connectionstrings", [{"name": "DB", "value": "x", "type": "Oracle"}]
    )
    assert r.status_code == 422
    assert "PostgreSQL" in r.json()["error"]["message"]


def test_others_cannot_touch_the_settings(api, bob_api, app):
    assert bob_api.get("/api/apps/hello/appsettings").status_code == 404
    r = bob_api.patch("/api/apps/hello/appsettings", [{"name": "A", "value": "1"}])
    assert r.status_code == 404
    assert bob_api.patch("/api/apps/hello/config", {"appCommandLine": "x"}).status_code == 404
    assert not AppSetting.objects.exists()


def test_an_empty_show_values_is_false(api, app):
    api.patch("/api/apps/hello/appsettings", [{"name": "SECRET", "value": "s3cr3t"}])
    r = api.get("/api/apps/hello/appsettings?showValues=")
    assert r.status_code == 200
    assert r.json()[0]["value"] is None
