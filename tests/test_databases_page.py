"""The app's Service Connector page: connect, see what was set (values
hidden), delete keeping or dropping the data; readers only look."""

from __future__ import annotations

import pytest

from apps.access.models import Role, RoleAssignment
from apps.databases.models import ServiceConnection
from apps.engine.errors import EngineError
from apps.webapps.models import AppSetting, WebApp
from tests.test_databases_connections import services  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def shop(alice) -> WebApp:
    app = WebApp.objects.create(name="shop", owner=alice, state=WebApp.State.STOPPED)
    RoleAssignment.objects.get_or_create(app=app, user=alice, role=Role.OWNER)
    return app


def test_it_connects_and_shows_the_setting_names_but_not_their_values(
    alice_client,
    shop,
    services,  # noqa: F811
):
    page = alice_client.get("/apps/shop/connector/")
    assert page.status_code == 200 and b"connected to nothing yet" in page.content
    answer = alice_client.post(
        "/apps/shop/connector/create/", {"target": "postgres-flexible", "client_type": "django"}
    )
    assert answer.status_code == 302
    page = alice_client.get("/apps/shop/connector/")
    password = ServiceConnection.objects.get(app=shop).password
    assert b"AZURE_POSTGRESQL_PASSWORD" in page.content
    assert password.encode() not in page.content
    assert "Connected shop to" in page.content.decode()


def test_bad_input_is_refused_with_nothing_changed(alice_client, shop, services):  # noqa: F811
    answer = alice_client.post(
        "/apps/shop/connector/create/", {"target": "redis", "client_type": "java"}
    )
    assert answer.status_code == 400
    assert b"Nothing was changed" in answer.content and b"java" in answer.content
    assert not ServiceConnection.objects.exists() and not AppSetting.objects.exists()


def test_delete_keeps_the_data_unless_the_box_is_ticked(alice_client, shop, services):  # noqa: F811
    alice_client.post("/apps/shop/connector/create/", {"target": "postgres-flexible"})
    alice_client.post("/apps/shop/connector/postgres_flexible/delete/")
    services.disable.assert_called_once_with("shop")
    alice_client.post("/apps/shop/connector/create/", {"target": "postgres-flexible"})
    alice_client.post("/apps/shop/connector/postgres_flexible/delete/", {"delete_database": "on"})
    services.drop.assert_called_once_with("shop")
    assert not AppSetting.objects.filter(app=shop).exists()


def test_readers_see_the_page_but_cannot_connect(client, bob, shop, services):  # noqa: F811
    RoleAssignment.objects.create(app=shop, user=bob, role=Role.READER)
    client.force_login(bob)
    page = client.get("/apps/shop/connector/")
    assert page.status_code == 200 and b"read-only-note" in page.content
    refused = client.post("/apps/shop/connector/create/", {"target": "redis"})
    assert refused.status_code == 403
    assert not ServiceConnection.objects.exists()


def test_the_create_page_makes_an_app_with_a_database_and_a_cache(
    alice_client,
    services,  # noqa: F811
):
    answer = alice_client.post(
        "/apps/new/",
        {
            "name": "shop2",
            "resource_group": "default",
            "linux_fx_version": "PYTHON|3.11",
            "database": "on",
            "cache": "on",
            "client_type": "django",
        },
    )
    assert answer.status_code == 302
    app = WebApp.objects.get(name="shop2")
    assert sorted(c.target for c in app.service_connections.all()) == ["postgres-flexible", "redis"]
    names = set(AppSetting.objects.filter(app=app).values_list("name", flat=True))
    assert {"AZURE_POSTGRESQL_HOST", "AZURE_REDIS_CONNECTIONSTRING"} <= names


def test_the_create_page_makes_nothing_when_the_database_cannot_be_made(
    alice_client,
    services,  # noqa: F811
):
    services.made.side_effect = EngineError("PostgreSQL refused: disk full")
    answer = alice_client.post(
        "/apps/new/",
        {
            "name": "shop3",
            "resource_group": "default",
            "linux_fx_version": "PYTHON|3.11",
            "database": "on",
        },
    )
    assert answer.status_code == 503
    assert b"Nothing was created" in answer.content and b"disk full" in answer.content
    assert not WebApp.objects.filter(name="shop3").exists()
