"""Service Connector connections through the API, with the database
services replaced (the real ones: tests/test_databases_e2e.py): which
settings each client type gets, values hidden, secrets encrypted at rest,
audit entries, and bad input refused with nothing changed."""

# The fixtures come from tests.apiutil; test arguments naming them are not redefinitions.
# ruff: noqa: F811
from __future__ import annotations

import shlex
from unittest import mock

import pytest
from django.db import connection as db

from apps.access.models import Role, RoleAssignment
from apps.audit.models import AuditEvent
from apps.core import hooks
from apps.core.datadir import make_private
from apps.databases import connections, postgres, redis, tls
from apps.databases.models import ServiceConnection
from apps.webapps.models import AppSetting, WebApp
from berth_cli.main import build_parser
from tests.apiutil import alice_token, api, bob_api, error_code  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

URL = "/api/apps/shop/connections"


@pytest.fixture
def services(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    with (
        mock.patch.object(postgres, "ensure_running", autospec=True),
        mock.patch.object(postgres, "create_database", autospec=True, return_value=True) as made,
        mock.patch.object(postgres, "disable", autospec=True) as disable,
        mock.patch.object(postgres, "drop", autospec=True) as drop,
        mock.patch.object(redis, "ensure_running", autospec=True) as redis_up,
        mock.patch.object(redis, "remove", autospec=True) as redis_remove,
        mock.patch("apps.engine.client.find_networks", return_value=[]),
        # The service images are there: connecting is done in the request.
        mock.patch.object(connections, "needs_build", autospec=True, return_value=False),
    ):
        redis_up.side_effect = lambda app_name, password, progress=None: f"berth-redis-{app_name}"
        yield mock.Mock(
            made=made, disable=disable, drop=drop, redis_up=redis_up, redis_remove=redis_remove
        )


@pytest.fixture
def shop(alice) -> WebApp:
    app = WebApp.objects.create(name="shop", owner=alice, state=WebApp.State.STOPPED)
    RoleAssignment.objects.get_or_create(app=app, user=alice, role=Role.OWNER)
    return app


def _settings(app) -> dict[str, str]:
    return dict(AppSetting.objects.filter(app=app).values_list("name", "value"))


def test_django_gets_the_four_postgresql_settings_and_a_role_of_its_own(api, shop, services):
    r = api.post(URL, {"targetType": "postgres-flexible", "clientType": "django"})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["name"] == "postgres_flexible" and body["host"] == "berth-postgres"
    assert body["database"] == body["user"] == "shop"
    assert [c["value"] for c in body["configurations"]] == [None] * 4
    saved = _settings(shop)
    assert set(saved) == {
        "AZURE_POSTGRESQL_HOST",
        "AZURE_POSTGRESQL_NAME",
        "AZURE_POSTGRESQL_USER",
        "AZURE_POSTGRESQL_PASSWORD",
    }
    assert saved["AZURE_POSTGRESQL_HOST"] == "berth-postgres"
    assert saved["AZURE_POSTGRESQL_NAME"] == saved["AZURE_POSTGRESQL_USER"] == "shop"
    password = saved["AZURE_POSTGRESQL_PASSWORD"]
    assert len(password) >= 30
    services.made.assert_called_once_with("shop", password)


def test_python_gets_a_libpq_connection_string_with_sslmode_require(api, shop, services):
    r = api.post(URL, {"targetType": "postgres-flexible", "clientType": "python"})
    assert r.status_code == 201
    value = _settings(shop)["AZURE_POSTGRESQL_CONNECTIONSTRING"]
    password = ServiceConnection.objects.get(app=shop).password
    assert value == (
        f"dbname=shop host=berth-postgres port=5432 sslmode=require user=shop password={password}"
    )


def test_the_client_type_defaults_to_python_as_az_does_for_python_apps(api, shop, services):
    r = api.post(URL, {"targetType": "postgres-flexible"})
    assert r.json()["clientType"] == "python"
    assert "AZURE_POSTGRESQL_CONNECTIONSTRING" in _settings(shop)


def test_redis_gets_a_rediss_url_on_6380(api, shop, services):
    r = api.post(URL, {"targetType": "redis", "clientType": "django"})
    assert r.status_code == 201
    password = ServiceConnection.objects.get(app=shop, target="redis").password
    assert _settings(shop) == {
        "AZURE_REDIS_CONNECTIONSTRING": f"rediss://:{password}@berth-redis-shop:6380/0"
    }


def test_values_are_shown_only_when_asked_and_the_password_is_encrypted_at_rest(
    api, shop, services
):
    api.post(URL, {"targetType": "postgres-flexible", "clientType": "django"})
    password = ServiceConnection.objects.get(app=shop).password
    hidden = api.get(URL).json()[0]["configurations"]
    assert all(c["value"] is None for c in hidden)
    shown = api.get(URL + "/postgres_flexible?showValues=true").json()["configurations"]
    assert {"name": "AZURE_POSTGRESQL_PASSWORD", "value": password} in shown
    with db.cursor() as cursor:
        cursor.execute("SELECT password FROM databases_serviceconnection")
        stored = cursor.fetchone()[0]
    assert password not in stored
    events = AuditEvent.objects.filter(app=shop)
    assert events.filter(action=AuditEvent.Action.CONNECTION_CREATE).count() == 1
    for event in events:
        assert password not in str(event.before) + str(event.after) + event.summary


def test_connecting_twice_or_with_an_unknown_client_type_changes_nothing(api, shop, services):
    assert api.post(URL, {"targetType": "postgres-flexible"}).status_code == 201
    before = _settings(shop)
    again = api.post(URL, {"targetType": "postgres-flexible", "connectionName": "other"})
    assert again.status_code == 409 and error_code(again) == "Conflict"
    assert "already connected" in again.json()["error"]["message"]
    bad = api.post(URL, {"targetType": "redis", "clientType": "java"})
    assert bad.status_code == 422
    unknown = api.post(URL, {"targetType": "mysql"})
    assert unknown.status_code == 422
    assert _settings(shop) == before
    assert ServiceConnection.objects.filter(app=shop).count() == 1
    services.redis_up.assert_not_called()


def test_a_service_that_cannot_start_leaves_nothing_behind(api, shop, services):
    from apps.engine.errors import EngineError

    services.made.side_effect = EngineError("PostgreSQL refused: no space left")
    r = api.post(URL, {"targetType": "postgres-flexible"})
    assert r.status_code == 503 and "no space left" in r.json()["error"]["message"]
    assert not ServiceConnection.objects.exists() and not _settings(shop)


def test_delete_removes_its_settings_and_keeps_the_database_unless_asked(api, shop, services):
    AppSetting.objects.create(app=shop, name="OWN", value="mine")
    api.post(URL, {"targetType": "postgres-flexible", "clientType": "django"})
    r = api.delete(URL + "/postgres_flexible")
    assert r.status_code == 200
    assert r.json()["databaseDeleted"] is False and len(r.json()["settingsRemoved"]) == 4
    assert _settings(shop) == {"OWN": "mine"}
    services.disable.assert_called_once_with("shop")
    services.drop.assert_not_called()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CONNECTION_DELETE).exists()

    api.post(URL, {"targetType": "postgres-flexible"})
    assert api.delete(URL + "/postgres_flexible?deleteDatabase=true").json()["databaseDeleted"]
    services.drop.assert_called_once_with("shop")
    api.post(URL, {"targetType": "redis"})
    api.delete(URL + "/redis")
    services.redis_remove.assert_called_once_with("shop", keep_data=True)


def test_a_missing_connection_is_a_404_naming_the_ones_there(api, shop, services):
    api.post(URL, {"targetType": "redis"})
    r = api.delete(URL + "/nope")
    assert r.status_code == 404 and "redis" in r.json()["error"]["message"]


def test_readers_see_names_but_may_not_connect_nor_see_values(bob_api, bob, shop, services):
    RoleAssignment.objects.create(app=shop, user=bob, role=Role.READER)
    assert bob_api.post(URL, {"targetType": "redis"}).status_code == 403
    assert bob_api.get(URL).status_code == 200
    assert bob_api.get(URL + "?showValues=true").status_code == 403
    assert not ServiceConnection.objects.exists()


def test_others_cannot_even_see_the_app(bob_api, shop, services):
    assert bob_api.post(URL, {"targetType": "redis"}).status_code == 404


def test_app_containers_get_the_ca_only_when_connected(shop, services, settings):
    assert hooks.container_extras("shop", "berth-app-shop") == hooks.ContainerExtras()
    connections.create(shop, "redis")
    with mock.patch.object(redis, "attach", autospec=True) as attach:
        extras = connections.container_extras("shop", "berth-app-shop")
    attach.assert_called_once_with("shop", "berth-app-shop")
    assert extras.environment == {
        "PGSSLROOTCERT": "/etc/berth/trust/berth-ca.crt",
        "SSL_CERT_FILE": "/etc/berth/trust/bundle.crt",
    }
    [(source, (target, mode))] = extras.mounts.items()
    assert target == "/etc/berth/trust" and mode == "ro"
    assert b"BEGIN CERTIFICATE" in (settings.DATA_DIR / "services/trust/berth-ca.crt").read_bytes()


def test_the_cli_parses_az_s_connection_commands():
    parser = build_parser()
    args = parser.parse_args(
        shlex.split("webapp connection create postgres-flexible -g G -n shop --client-type django")
    )
    assert (args.target, args.client_type, args.name, args.resource_group) == (
        "postgres-flexible",
        "django",
        "shop",
        "G",
    )
    args = parser.parse_args(shlex.split("webapp connection delete -n shop --connection redis -y"))
    assert args.connection == "redis" and not args.delete_database


def test_scram_verifier_has_postgresql_s_shape():
    verifier = postgres.scram_verifier("pencil", salt=b"0123456789abcdef")
    head, keys = verifier.split("$", 1)[1].split("$")
    assert verifier.startswith("SCRAM-SHA-256$4096:") and head.startswith("4096:")
    assert len(keys.split(":")) == 2
    assert postgres.scram_verifier("pencil", salt=b"0123456789abcdef") == verifier


def test_validate_says_what_is_missing_before_the_app_has_a_network(api, shop, services):
    api.post(URL, {"targetType": "redis"})
    with mock.patch("apps.engine.client.find_networks", return_value=[]) as find:
        r = api.post(URL + "/redis/validate")
    assert r.status_code == 200
    assert r.json()["ok"] is False
    assert "deploy or start it" in r.json()["checks"][0]["detail"]
    find.assert_called_once_with({"io.berth.app": "shop", "io.berth.role": "app-network"})


def test_a_long_app_name_still_gives_redis_a_valid_host_name():
    long = "a" * 60
    name = redis.container_name(long)
    assert len(name) <= 63 and name.startswith("berth-redis-aaaa")
    assert redis.container_name("b" + "a" * 59) != name
    assert redis.container_name("shop") == "berth-redis-shop"


def test_the_ca_stays_readable_by_the_apps_after_secure_data(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    folder = tls.trust_dir()
    make_private(settings.DATA_DIR)
    assert (folder / "berth-ca.crt").stat().st_mode & 0o777 == 0o600
    assert tls.trust_dir() == folder
    for name in ("berth-ca.crt", "bundle.crt"):
        assert (folder / name).stat().st_mode & 0o777 == 0o644, name
    assert folder.stat().st_mode & 0o777 == 0o755
