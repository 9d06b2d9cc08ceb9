"""The Activity log: every change through the services is recorded, secret
values never are."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import AuditEvent
from apps.deployments import teardown
from apps.webapps import services
from apps.webapps.models import WebApp

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/apps/hello-flask/activity/"
JSON_URL = "/apps/hello-flask/activity.json"


@pytest.fixture(autouse=True)
def restart():
    with mock.patch("apps.deployments.tasks.restart.delay") as delay:
        yield delay


def all_event_text() -> str:
    return json.dumps([e.as_json() for e in AuditEvent.objects.all()], ensure_ascii=False)


def test_settings_changes_are_recorded_with_values_masked(webapp, alice):
    services.set_app_settings(
        webapp, [services.SettingInput("API_KEY", "very-secret-1")], actor=alice
    )
    services.replace_app_settings(
        webapp,
        [
            services.SettingInput("API_KEY", "very-secret-2"),
            services.SettingInput("B", "bee-value"),
        ],
        actor=alice,
    )
    services.delete_app_settings(webapp, ["B"], actor=alice)
    events = list(AuditEvent.objects.order_by("pk"))
    assert [e.summary for e in events] == [
        "App settings: added API_KEY",
        "App settings: added B; changed API_KEY",
        "App settings: removed B",
    ]
    assert events[1].before == {"API_KEY": {"value": "***", "slotSetting": False}}
    assert {e.actor for e in events} == {alice}
    text = all_event_text()
    for secret in ("very-secret-1", "very-secret-2", "bee-value"):
        assert secret not in text


def test_connection_string_changes_are_recorded_with_values_masked(webapp, alice):
    services.set_connection_strings(
        webapp,
        [services.ConnectionStringInput("db", "Password=hunter22", "PostgreSQL")],
        actor=alice,
    )
    services.replace_connection_strings(webapp, [], actor=alice)
    events = list(AuditEvent.objects.order_by("pk"))
    assert [e.action for e in events] == ["connectionstrings.update"] * 2
    assert events[0].after == {"db": {"value": "***", "type": "PostgreSQL", "slotSetting": False}}
    assert "hunter22" not in all_event_text()


def test_general_settings_changes_are_recorded_with_before_and_after(webapp, alice):
    services.update_general_settings(webapp, app_command_line="gunicorn app:app", actor=alice)
    event = AuditEvent.objects.get()
    assert event.action == "generalsettings.update"
    assert event.before == {"app_command_line": ""}
    assert event.after == {"app_command_line": "gunicorn app:app"}
    assert event.summary == "General settings: changed appCommandLine"


def test_no_change_records_nothing(webapp, alice):
    services.update_general_settings(webapp, app_command_line="", actor=alice)
    services.set_app_settings(webapp, [], actor=alice)
    assert not AuditEvent.objects.exists()


def test_a_failed_change_records_nothing(webapp, alice):
    with pytest.raises(ValidationError):
        services.set_app_settings(webapp, [services.SettingInput("bad name", "x")], actor=alice)
    assert not AuditEvent.objects.exists()


def test_app_create_and_delete_are_recorded(alice):
    app = services.create_app(name="new-app", owner=alice, linux_fx_version="PYTHON|3.13")
    teardown.delete_app(app, actor=alice)
    create, owner, delete = AuditEvent.objects.order_by("pk")
    assert (create.action, create.actor, create.app_name) == ("app.create", alice, "new-app")
    assert (owner.action, owner.after["principal"]) == ("roleassignment.create", "user:alice")
    assert create.after["linuxFxVersion"] == "PYTHON|3.13"
    assert (delete.action, delete.app, delete.app_name) == ("app.delete", None, "new-app")


def test_creating_through_the_page_is_recorded(alice_client, alice):
    alice_client.post(
        "/apps/new/", {"name": "my-api", "resource_group": "rg1", "linux_fx_version": "PYTHON|3.11"}
    )
    event = AuditEvent.objects.get(action="app.create")
    assert (event.action, event.actor, event.app.name) == ("app.create", alice, "my-api")


def test_the_page_lists_events_and_filters_by_action_and_user(alice_client, webapp, alice, bob):
    services.update_general_settings(webapp, app_command_line="one", actor=alice)
    services.set_app_settings(webapp, [services.SettingInput("A", "1")], actor=bob)
    html = alice_client.get(URL).content.decode()
    assert "Update general settings" in html and "Update application settings" in html
    only = alice_client.get(URL + "?action=appsettings.update").content.decode()
    assert "App settings: added A" in only
    assert "General settings: changed" not in only
    by_alice = alice_client.get(URL + "?user=alice", headers={"HX-Request": "true"})
    assert b"<html" not in by_alice.content
    assert b"General settings: changed" in by_alice.content
    assert b"App settings: added A" not in by_alice.content


def test_the_json_export_has_the_events(alice_client, webapp, alice):
    services.set_app_settings(webapp, [services.SettingInput("TOKEN", "abcd-1234")], actor=alice)
    response = alice_client.get(JSON_URL + "?download=1")
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    data = response.json()
    assert data["app"] == "hello-flask"
    [event] = data["events"]
    assert event["user"] == "alice"
    assert event["after"] == {"TOKEN": {"value": "***", "slotSetting": False}}
    assert b"abcd-1234" not in response.content


def test_the_json_export_filters_too(alice_client, webapp, alice):
    services.update_general_settings(webapp, app_command_line="x", actor=alice)
    assert alice_client.get(JSON_URL + "?action=app.delete").json()["events"] == []


def test_it_requires_login_and_hides_other_users_apps(client, bob, webapp):
    assert client.get(URL).status_code == 302
    assert client.get(JSON_URL).status_code == 302
    client.force_login(bob)
    assert client.get(URL).status_code == 404
    assert client.get(JSON_URL).status_code == 404


def test_a_recreated_app_does_not_inherit_the_old_history(alice_client, alice, bob):
    old = services.create_app(name="reused", owner=bob)
    services.update_general_settings(old, app_command_line="bobs secret cmd", actor=bob)
    teardown.delete_app(old, actor=bob)
    WebApp.objects.create(name="reused", owner=alice)
    html = alice_client.get("/apps/reused/activity/").content.decode()
    assert "bobs secret cmd" not in html
