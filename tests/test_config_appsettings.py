"""The Application settings tab: hidden values, pending edits, one Save."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.test import Client

from apps.webapps import services
from apps.webapps.models import AppSetting, ConnectionString, Operation, WebApp
from tests.config_forms import as_post, form_fields

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/apps/hello-flask/configuration/"
HTMX = {"HX-Request": "true", "HX-Target": "config-form"}
TRICKY = 'say "hi" $HOME a=b c  spaces é ünïcödé 漢字'


@pytest.fixture(autouse=True)
def restart():
    with mock.patch("apps.deployments.tasks.restart.delay") as delay:
        yield delay


@pytest.fixture
def secret(webapp) -> AppSetting:
    services.set_app_settings(
        webapp,
        [services.SettingInput("DATABASE_PASSWORD", "s3cret-value-42")],
        restart=False,
    )
    return AppSetting.objects.get(app=webapp)


def page_fields(response) -> list[tuple[str, str]]:
    return form_fields(response.content, "config-form")


def row_key(fields, prefix: str, name: str) -> str:
    for key in (v for n, v in fields if n == prefix):
        if (f"{prefix}-{key}-name", name) in fields:
            return key
    raise AssertionError(f"no row {name!r} in {fields}")


def test_it_requires_login(client, webapp):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_hides_other_users_apps(client, bob, webapp):
    client.force_login(bob)
    assert client.get(URL).status_code == 404
    assert client.post(URL, {"op": "show-all"}).status_code == 404


def test_staff_see_every_app(client, admin_user, webapp):
    client.force_login(admin_user)
    assert client.get(URL).status_code == 200


def test_it_lists_names_but_not_values(alice_client, secret):
    response = alice_client.get(URL)
    assert response.status_code == 200
    assert b"DATABASE_PASSWORD" in response.content
    assert b"Hidden value. Click show values button to view." in response.content
    assert b"s3cret-value-42" not in response.content


def test_it_shows_one_value_when_asked_through_htmx(alice_client, secret):
    fields = page_fields(alice_client.get(URL))
    key = row_key(fields, "s", "DATABASE_PASSWORD")
    response = alice_client.post(URL, as_post(fields, op=f"show:{key}"), headers=HTMX)
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b'id="config-form"' in response.content
    assert b"s3cret-value-42" in response.content
    assert "HX-Request" in response["Vary"]


def test_it_shows_and_hides_all_values(alice_client, secret, webapp):
    services.set_connection_strings(
        webapp,
        [services.ConnectionStringInput("db", "postgres://u:pw@h/db", "PostgreSQL")],
        restart=False,
    )
    fields = page_fields(alice_client.get(URL))
    shown = alice_client.post(URL, as_post(fields, op="show-all"), headers=HTMX)
    assert b"s3cret-value-42" in shown.content
    assert b"postgres://u:pw@h/db" in shown.content
    hidden = alice_client.post(URL, as_post(page_fields(shown), op="hide-all"), headers=HTMX)
    assert b"s3cret-value-42" not in hidden.content
    assert b"postgres://u:pw@h/db" not in hidden.content


def test_show_values_works_without_javascript(alice_client, secret):
    fields = page_fields(alice_client.get(URL))
    response = alice_client.post(URL, as_post(fields, op="show-all"))
    assert b"<html" in response.content
    assert b"s3cret-value-42" in response.content


def test_it_adds_a_row_as_a_pending_edit(alice_client, webapp):
    fields = page_fields(alice_client.get(URL))
    response = alice_client.post(URL, as_post(fields, op="add-setting"), headers=HTMX)
    assert response.status_code == 200
    assert b'aria-label="Name"' in response.content
    assert b"new" in response.content
    assert not AppSetting.objects.exists()


def test_save_without_confirmation_asks_first_and_saves_nothing(alice_client, webapp, restart):
    fields = page_fields(alice_client.post(URL, {"op": "add-setting"}))
    key = next(v for n, v in fields if n == "s")
    post = as_post(fields, op="save", **{f"s-{key}-name": "GREETING", f"s-{key}-value": "hi"})
    response = alice_client.post(URL, post)
    assert response.status_code == 200
    assert b"Save and restart" in response.content
    assert b"restarts hello-flask" in response.content
    assert not AppSetting.objects.exists()
    restart.assert_not_called()


def test_it_saves_every_pending_edit_at_once_and_restarts_once(
    alice_client, secret, webapp, restart, django_capture_on_commit_callbacks
):
    services.set_app_settings(webapp, [services.SettingInput("OLD", "to-delete")], restart=False)
    fields = page_fields(alice_client.get(URL))
    old = row_key(fields, "s", "OLD")
    fields = page_fields(alice_client.post(URL, as_post(fields, op=f"delete:{old}")))
    fields = page_fields(alice_client.post(URL, as_post(fields, op="add-setting")))
    new = [v for n, v in fields if n == "s"][-1]
    fields = page_fields(
        alice_client.post(
            URL,
            as_post(
                fields, op=f"done:{new}", **{f"s-{new}-name": "TRICKY", f"s-{new}-value": TRICKY}
            ),
        )
    )
    fields = page_fields(alice_client.post(URL, as_post(fields, op="add-connection")))
    ckey = next(v for n, v in fields if n == "c")
    post = as_post(
        fields,
        op="save-confirmed",
        **{
            f"c-{ckey}-name": "maindb",
            f"c-{ckey}-value": "Host=db;Pwd=x",
            f"c-{ckey}-type": "PostgreSQL",
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(URL, post)
    assert response.status_code == 302
    op = Operation.objects.get(app=webapp)
    assert response["Location"] == f"{URL}?operation={op.pk}"
    saved = {s.name: s.value for s in AppSetting.objects.filter(app=webapp)}
    assert saved == {"DATABASE_PASSWORD": "s3cret-value-42", "TRICKY": TRICKY}
    cs = ConnectionString.objects.get(app=webapp)
    assert (cs.name, cs.value, cs.type) == ("maindb", "Host=db;Pwd=x", "PostgreSQL")
    restart.assert_called_once()
    page = alice_client.get(URL)
    assert "Restarting hello-flask" in page.content.decode()


def test_an_htmx_save_answers_with_a_client_redirect(alice_client, secret, restart):
    fields = page_fields(alice_client.get(URL))
    key = row_key(fields, "s", "DATABASE_PASSWORD")
    fields = page_fields(alice_client.post(URL, as_post(fields, op=f"edit:{key}")))
    post = as_post(fields, op="save", confirmed="1", **{f"s-{key}-value": "new-value"})
    response = alice_client.post(URL, post, headers=HTMX)
    assert response.status_code == 200
    op = Operation.objects.get(trigger="settings")
    assert response["HX-Redirect"] == f"{URL}?operation={op.pk}"
    assert AppSetting.objects.get().value == "new-value"


def test_an_invalid_name_shows_an_error_at_the_row_and_saves_nothing(alice_client, secret):
    fields = page_fields(alice_client.post(URL, {"op": "add-setting"}))
    key = next(v for n, v in fields if n == "s")
    post = as_post(
        fields, op="save", confirmed="1", **{f"s-{key}-name": "BAD NAME!", f"s-{key}-value": "v"}
    )
    response = alice_client.post(URL, post, headers=HTMX)
    html = response.content.decode()
    row = re.search(rf'<tr id="s-{key}".*?</tr>', html, re.S).group(0)
    assert "is not a valid setting name" in row
    assert 'aria-invalid="true"' in row
    assert "Nothing was saved" in html
    assert list(AppSetting.objects.values_list("name", flat=True)) == ["DATABASE_PASSWORD"]


def test_a_duplicate_name_is_an_error_at_the_second_row(alice_client, secret):
    fields = page_fields(alice_client.get(URL))
    fields = page_fields(alice_client.post(URL, as_post(fields, op="add-setting")))
    key = [v for n, v in fields if n == "s"][-1]
    post = as_post(
        fields, op="done:" + key, **{f"s-{key}-name": "DATABASE_PASSWORD", f"s-{key}-value": "v"}
    )
    html = alice_client.post(URL, post).content.decode()
    assert "given twice" in html


def test_an_edited_value_round_trips_exactly_through_the_table(alice_client, webapp):
    value = 'line one\nline "two" $X=1\n  ünï\n'
    fields = page_fields(alice_client.post(URL, {"op": "add-setting"}))
    key = next(v for n, v in fields if n == "s")
    # Browsers send line breaks in forms as CRLF.
    browser_value = value.replace("\n", "\r\n")
    fields = page_fields(
        alice_client.post(
            URL,
            as_post(
                fields,
                op=f"done:{key}",
                **{f"s-{key}-name": "MULTI", f"s-{key}-value": browser_value},
            ),
        )
    )
    # The pending value now travels in a hidden input, JSON-encoded.
    assert (f"s-{key}-has_value", "json") in fields
    alice_client.post(URL, as_post(fields, op="save-confirmed"))
    assert AppSetting.objects.get(name="MULTI").value == value


def test_build_settings_carry_a_hint(alice_client, webapp):
    services.set_app_settings(
        webapp, [services.SettingInput("PRE_BUILD_COMMAND", "echo hi")], restart=False
    )
    html = alice_client.get(URL).content.decode()
    assert "Build setting: A command or script run before pip install." in html
    # The missing ones can be added with one click.
    assert 'value="add-POST_BUILD_COMMAND"' in html


def test_adding_a_build_setting_prefills_its_name(alice_client, webapp):
    response = alice_client.post(URL, {"op": "add-DISABLE_COLLECTSTATIC"}, headers=HTMX)
    assert b'value="DISABLE_COLLECTSTATIC"' in response.content


def test_deleting_is_pending_until_save_and_can_be_undone(alice_client, secret):
    fields = page_fields(alice_client.get(URL))
    key = row_key(fields, "s", "DATABASE_PASSWORD")
    deleted = alice_client.post(URL, as_post(fields, op=f"delete:{key}"), headers=HTMX)
    assert b"will be deleted" in deleted.content
    assert AppSetting.objects.exists()
    undone = alice_client.post(URL, as_post(page_fields(deleted), op=f"undo:{key}"), headers=HTMX)
    assert b"will be deleted" not in undone.content


def test_a_stopped_app_is_saved_without_a_restart(
    alice_client, webapp, restart, django_capture_on_commit_callbacks
):
    WebApp.objects.filter(pk=webapp.pk).update(state=WebApp.State.STOPPED)
    fields = page_fields(alice_client.post(URL, {"op": "add-setting"}))
    key = next(v for n, v in fields if n == "s")
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(
            URL,
            as_post(fields, op="save-confirmed", **{f"s-{key}-name": "A", f"s-{key}-value": "1"}),
        )
    assert AppSetting.objects.get().value == "1"
    restart.assert_not_called()


def test_the_save_form_enforces_csrf(alice, secret):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    fields = page_fields(client.get(URL))
    assert any(n == "csrfmiddlewaretoken" for n, _ in fields)
    without = [(n, v) for n, v in fields if n != "csrfmiddlewaretoken"]
    assert client.post(URL, as_post(without, op="save-confirmed")).status_code == 403
    assert client.post(URL, as_post(fields, op="save-confirmed")).status_code == 302
