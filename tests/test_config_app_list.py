"""The app list's filters (state, resource group, runtime) and status badges."""

from __future__ import annotations

import pytest

from apps.webapps.models import WebApp

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def apps(alice, bob):
    WebApp.objects.create(name="api", owner=alice, resource_group="prod")
    WebApp.objects.create(
        name="worker", owner=alice, resource_group="prod", state=WebApp.State.STOPPED
    )
    WebApp.objects.create(
        name="blog", owner=alice, resource_group="dev", linux_fx_version="PYTHON|3.13"
    )
    WebApp.objects.create(name="bobs", owner=bob, resource_group="bobs-rg")


def names(response) -> set[str]:
    html = response.content.decode()
    return {n for n in ("api", "worker", "blog", "bobs") if f">{n}</a>" in html}


def test_it_filters_by_state(alice_client, apps):
    assert names(alice_client.get("/?state=Stopped")) == {"worker"}


def test_it_filters_by_resource_group_and_runtime(alice_client, apps):
    assert names(alice_client.get("/?resource_group=prod")) == {"api", "worker"}
    assert names(alice_client.get("/?runtime=PYTHON|3.13")) == {"blog"}
    assert names(alice_client.get("/?resource_group=prod&state=Running&q=a")) == {"api"}


def test_filter_choices_come_from_the_users_own_apps(alice_client, apps):
    html = alice_client.get("/").content.decode()
    assert '<option value="dev">dev</option>' in html
    assert "bobs-rg" not in html


def test_htmx_gets_the_table_only_with_a_status_badge(alice_client, apps):
    response = alice_client.get("/?state=Stopped", headers={"HX-Request": "true"})
    assert b"<html" not in response.content
    assert b'class="badge badge-stopped"' in response.content
    assert b"No app matches" not in response.content


def test_it_says_when_no_app_matches(alice_client, apps):
    assert b"No app matches these filters" in alice_client.get("/?resource_group=none").content
