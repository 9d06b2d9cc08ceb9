"""Backups through the API without an engine (an app with no database:
configuration only; the dumps and restores of real databases are in
tests/test_databases_e2e.py): encrypted, listed, restored, pruned."""

# The fixtures come from tests.apiutil; test arguments naming them are not redefinitions.
# ruff: noqa: F811
from __future__ import annotations

import datetime as dt

import pytest

from apps.access.models import Role, RoleAssignment
from apps.audit.models import AuditEvent
from apps.databases import backups
from apps.webapps.models import AppSetting, WebApp
from tests.apiutil import alice_token, api, bob_api, error_code  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

URL = "/api/apps/shop/backups"
SECRET = "a-setting-value-never-stored-plain"


@pytest.fixture
def shop(alice, settings, tmp_path) -> WebApp:
    settings.DATA_DIR = tmp_path
    app = WebApp.objects.create(name="shop", owner=alice, state=WebApp.State.STOPPED)
    RoleAssignment.objects.get_or_create(app=app, user=alice, role=Role.OWNER)
    AppSetting.objects.create(app=app, name="SECRET_KEY", value=SECRET)
    return app


def test_a_backup_holds_the_configuration_encrypted_and_restores_it(api, shop, settings):
    r = api.post(URL, {"backupName": "before-change"})
    assert r.status_code == 201, r.content
    assert r.json()["name"] == "before-change" and r.json()["databases"] == []
    folder = settings.DATA_DIR / "backups/shop/before-change"
    for path in folder.iterdir():
        assert SECRET.encode() not in path.read_bytes()
    assert not list((settings.DATA_DIR / "backups/shop").glob(".*"))  # no partial left
    AppSetting.objects.filter(app=shop).update(value="changed")
    AppSetting.objects.create(app=shop, name="NEW_ONE", value="x")
    r = api.post(URL + "/before-change/restore", {})
    assert r.status_code == 200
    assert dict(AppSetting.objects.filter(app=shop).values_list("name", "value")) == {
        "SECRET_KEY": SECRET
    }
    actions = set(AuditEvent.objects.filter(app=shop).values_list("action", flat=True))
    assert {"backup.create", "backup.restore"} <= actions
    assert api.get(URL).json()[0]["sizeInBytes"] > 0


def test_bad_names_twice_and_unknown_backups_are_refused(api, shop):
    assert api.post(URL, {"backupName": "../etc"}).status_code == 400
    assert api.post(URL, {"backupName": "b1"}).status_code == 201
    again = api.post(URL, {"backupName": "b1"})
    assert again.status_code == 409
    missing = api.post(URL + "/nope/restore", {})
    assert missing.status_code == 404 and "b1" in missing.json()["error"]["message"]
    assert error_code(missing) == "ResourceNotFound"


def test_readers_may_list_but_not_back_up(bob_api, bob, shop):
    RoleAssignment.objects.create(app=shop, user=bob, role=Role.READER)
    assert bob_api.get(URL).status_code == 200
    assert bob_api.post(URL).status_code == 403


def test_scheduled_backups_are_due_daily_and_the_newest_seven_kept(shop, settings):
    assert backups.due(shop)
    for n in range(9):
        backups.create(shop, name=f"s{n}", trigger="scheduled")
    backups.create(shop, name="manual-one")
    names = [b.name for b in backups.list_backups(shop)]
    assert "manual-one" in names and len(names) == settings.BERTH_BACKUP_KEEP + 1
    assert "s0" not in names and "s8" in names
    assert not backups.due(shop)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)
    assert backups.due(shop, now=later)


def test_the_backups_page_backs_up_and_restores_after_asking(alice_client, shop):
    page = alice_client.get("/apps/shop/backups/")
    assert page.status_code == 200 and b"No backups of shop yet" in page.content
    assert alice_client.post("/apps/shop/backups/create/").status_code == 302
    [made] = backups.list_backups(shop)
    page = alice_client.get("/apps/shop/backups/")
    assert made.name.encode() in page.content and SECRET.encode() not in page.content
    AppSetting.objects.filter(app=shop).update(value="changed")
    ask = alice_client.get(f"/apps/shop/backups/{made.name}/restore/")
    assert ask.status_code == 200 and b"cannot be undone" in ask.content
    assert AppSetting.objects.get(app=shop).value == "changed"  # asking changed nothing
    nowhere = alice_client.post(f"/apps/shop/backups/{made.name}/restore/", {"target": "nope"})
    assert nowhere.status_code == 400 and b"create it first" in nowhere.content
    done = alice_client.post(f"/apps/shop/backups/{made.name}/restore/", {"target": "shop"})
    assert done.status_code == 302
    assert AppSetting.objects.get(app=shop).value == SECRET


def test_readers_see_the_backups_page_without_buttons(client, bob, shop):
    RoleAssignment.objects.create(app=shop, user=bob, role=Role.READER)
    client.force_login(bob)
    page = client.get("/apps/shop/backups/")
    assert page.status_code == 200 and b"backup-now" not in page.content
    assert client.post("/apps/shop/backups/create/").status_code == 403
