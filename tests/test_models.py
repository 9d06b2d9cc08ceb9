from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from apps.webapps.models import AppSetting, ConnectionString, WebApp

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.mark.parametrize("name", ["ab", "my-app", "a1", "x" * 60, "app-2-b"])
def test_it_accepts_dns_label_names(alice, name):
    WebApp(name=name, owner=alice).full_clean()


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("a", "2 to 60"),
        ("x" * 61, "2 to 60"),
        ("-app", "may not start"),
        ("app-", "may not start"),
        ("my_app", "letters, digits and hyphens"),
        ("My-App", "lowercase"),
        ("app.name", "letters, digits and hyphens"),
    ],
)
def test_it_rejects_bad_names_with_a_message_that_says_what_to_fix(alice, name, fragment):
    with pytest.raises(ValidationError) as e:
        WebApp(name=name, owner=alice).full_clean()
    assert fragment in str(e.value)


def test_it_rejects_an_unknown_stack(alice):
    with pytest.raises(ValidationError) as e:
        WebApp(name="ok-app", owner=alice, linux_fx_version="NODE|20").full_clean()
    assert "PYTHON|3.11" in str(e.value)


def test_it_gives_each_app_publishing_credentials(webapp):
    assert webapp.publishing_username == "$hello-flask"
    assert len(webapp.publishing_password) > 30


def _raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_it_encrypts_setting_values_at_rest(webapp):
    value = "p@ss w0rd=$HOME 'quoted' \"double\"\nnewline ünïcødé"
    setting = AppSetting.objects.create(app=webapp, name="DB_PASSWORD", value=value)
    raw = _raw("webapps_appsetting", "value", setting.pk)
    assert value not in raw and "p@ss" not in raw
    assert AppSetting.objects.get(pk=setting.pk).value == value


def test_it_encrypts_connection_strings_and_publishing_passwords_at_rest(webapp):
    cs = ConnectionString.objects.create(
        app=webapp, name="db", value="postgres://u:secret@db/x", type="PostgreSQL"
    )
    assert "secret" not in _raw("webapps_connectionstring", "value", cs.pk)
    assert webapp.publishing_password not in _raw(
        "webapps_webapp", "publishing_password", webapp.pk
    )
    assert cs.env_name == "POSTGRESQLCONNSTR_db"


@pytest.mark.parametrize("name", ["DEBUG", "Db:Host", "a.b-c", "_x"])
def test_it_accepts_app_setting_names(webapp, name):
    AppSetting(app=webapp, name=name).full_clean()


@pytest.mark.parametrize(
    "name, fragment", [("BAD NAME", "remove ' '"), ("1ABC", "start"), ("", "")]
)
def test_it_rejects_bad_setting_names(webapp, name, fragment):
    with pytest.raises(ValidationError) as e:
        AppSetting(app=webapp, name=name).full_clean()
    assert fragment in str(e.value)
