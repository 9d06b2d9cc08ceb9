"""Advanced edit: the Azure portal's JSON, round-tripped exactly."""

from __future__ import annotations

import json
from unittest import mock

import pytest

from apps.webapps import services
from apps.webapps.forms import parse_advanced_json
from apps.webapps.models import AppSetting, ConnectionString, Operation
from tests.config_forms import form_fields

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/apps/hello-flask/configuration/advanced/appsettings/"
CS_URL = "/apps/hello-flask/configuration/advanced/connectionstrings/"
TRICKY = {
    "QUOTES": "He said \"hi\" and 'bye'",
    "NEWLINES": "line 1\nline 2\r\nline 3\n",
    "DOLLAR": "$HOME and ${PATH} and $$",
    "EQUALS": "a=b=c; key=value",
    "SPACES": "  leading and trailing  ",
    "UNICODE": "ünïcödé 漢字 emoji 🚀",
    "BACKSLASH": "C:\\path\\to\\file",
}


@pytest.fixture(autouse=True)
def restart():
    with mock.patch("apps.deployments.tasks.restart.delay") as delay:
        yield delay


def textarea(response) -> str:
    return dict(form_fields(response.content, "advanced-form"))["text"]


def test_it_shows_the_settings_in_the_portals_json(alice_client, webapp):
    services.set_app_settings(
        webapp,
        [services.SettingInput(n, v, n == "DOLLAR") for n, v in TRICKY.items()],
        restart=False,
    )
    text = textarea(alice_client.get(URL))
    expected = [
        {"name": n, "value": TRICKY[n], "slotSetting": n == "DOLLAR"} for n in sorted(TRICKY)
    ]
    assert text == json.dumps(expected, indent=2, ensure_ascii=False)


def test_it_round_trips_tricky_values_exactly(alice_client, webapp):
    items = [{"name": n, "value": v, "slotSetting": False} for n, v in sorted(TRICKY.items())]
    text = json.dumps(items, indent=2, ensure_ascii=False)
    # Browsers send a textarea's line breaks as CRLF.
    response = alice_client.post(URL, {"text": text.replace("\n", "\r\n"), "confirmed": "1"})
    assert response.status_code == 302
    assert {s.name: s.value for s in AppSetting.objects.all()} == TRICKY
    assert textarea(alice_client.get(URL)) == text


def test_it_asks_before_saving(alice_client, webapp):
    text = '[{"name": "A", "value": "1", "slotSetting": false}]'
    response = alice_client.post(URL, {"text": text})
    assert b"Save and restart" in response.content
    assert not AppSetting.objects.exists()


def test_a_parse_error_says_where_and_what_to_fix(alice_client, webapp):
    text = '[\n  {"name": "A", "value": "1",}\n]'
    response = alice_client.post(URL, {"text": text, "confirmed": "1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Line 2, column 30: Expecting property name enclosed in double quotes" in html
    assert "remove a comma" in html
    assert not AppSetting.objects.exists()


def test_unknown_keys_are_errors(webapp):
    items, errors = parse_advanced_json('[{"name": "A", "value": "1", "slotsetting": true}]')
    assert items == []
    assert errors == ["Item 1 ('A'): unknown key 'slotsetting': did you mean 'slotSetting'?"]


def test_values_must_be_strings_and_names_valid(webapp):
    _, errors = parse_advanced_json('[{"name": "bad name", "value": 1}]')
    assert any("not a valid setting name" in e for e in errors)
    assert any('"value" is required and must be a string' in e for e in errors)


def test_the_top_level_must_be_a_list(webapp):
    _, errors = parse_advanced_json('{"name": "A", "value": "1"}')
    assert errors and errors[0].startswith("The text must be a JSON list")


def test_saving_replaces_all_settings(alice_client, webapp):
    services.set_app_settings(webapp, [services.SettingInput("GONE", "x")], restart=False)
    text = '[{"name": "KEPT", "value": "y", "slotSetting": true}]'
    alice_client.post(URL, {"text": text, "confirmed": "1"})
    assert list(AppSetting.objects.values_list("name", "value", "slot_setting")) == [
        ("KEPT", "y", True)
    ]


def test_connection_strings_have_their_own_format(alice_client, webapp):
    items = [
        {
            "name": "db",
            "value": 'Server=x;Password="p;w"',
            "type": "PostgreSQL",
            "slotSetting": False,
        },
        {"name": "other", "value": "é", "type": "Custom", "slotSetting": True},
    ]
    text = json.dumps(items, indent=2, ensure_ascii=False)
    assert alice_client.post(CS_URL, {"text": text, "confirmed": "1"}).status_code == 302
    assert textarea(alice_client.get(CS_URL)) == text
    assert ConnectionString.objects.get(name="db").env_name == "POSTGRESQLCONNSTR_db"


def test_an_unknown_connection_type_is_an_error(alice_client, webapp):
    text = '[{"name": "db", "value": "x", "type": "Oracle", "slotSetting": false}]'
    html = alice_client.post(CS_URL, {"text": text, "confirmed": "1"}).content.decode()
    assert "&quot;type&quot; must be one of" in html
    assert not ConnectionString.objects.exists()


def test_an_htmx_save_answers_with_a_client_redirect(alice_client, webapp):
    text = '[{"name": "A", "value": "1", "slotSetting": false}]'
    response = alice_client.post(
        URL, {"text": text, "confirmed": "1"}, headers={"HX-Request": "true"}
    )
    op = Operation.objects.get(app=webapp, trigger="settings")
    assert response["HX-Redirect"] == f"/apps/hello-flask/configuration/?operation={op.pk}"


def test_it_hides_other_users_apps_and_unknown_kinds(client, bob, webapp):
    client.force_login(bob)
    assert client.get(URL).status_code == 404
    client.force_login(webapp.owner)
    assert client.get("/apps/hello-flask/configuration/advanced/other/").status_code == 404
