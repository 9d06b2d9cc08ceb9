"""Backups through the API without an engine (an app with no database and
no /home volume: configuration only; the dumps, /home archives and restores
against the real engine are in tests/test_databases_e2e.py): encrypted,
listed, restored with the stack and startup command, pruned."""

# The fixtures come from tests.apiutil; test arguments naming them are not redefinitions.
# ruff: noqa: F811
from __future__ import annotations

import datetime as dt
import json
from unittest import mock

import pytest

from apps.access.models import Role, RoleAssignment
from apps.audit.models import AuditEvent
from apps.core import crypto
from apps.databases import backups
from apps.lifecycle import homebackup
from apps.webapps.models import AppSetting, WebApp
from tests.apiutil import alice_token, api, bob_api, error_code  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

URL = "/api/apps/shop/backups"
SECRET = "a-setting-value-never-stored-plain"


@pytest.fixture(autouse=True)
def no_home():
    # No engine here: the app has no /home volume.
    with mock.patch.object(homebackup, "has_home", autospec=True, return_value=False) as found:
        yield found


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
    assert ask.status_code == 200 and b"before-restore-" in ask.content
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


def test_a_restore_brings_back_the_stack_and_the_startup_command(api, shop):
    shop.linux_fx_version, shop.app_command_line = "PYTHON|3.11", "gunicorn app:app"
    shop.save()
    assert api.post(URL, {"backupName": "b1"}).json()["linuxFxVersion"] == "PYTHON|3.11"
    copy = WebApp.objects.create(
        name="copy", owner=shop.owner, state=WebApp.State.STOPPED, linux_fx_version="PYTHON|3.13"
    )
    r = api.post(URL + "/b1/restore", {"targetName": "copy"})
    assert r.status_code == 200, r.content
    copy.refresh_from_db()
    assert (copy.linux_fx_version, copy.app_command_line) == ("PYTHON|3.11", "gunicorn app:app")
    assert AppSetting.objects.get(app=copy).value == SECRET


def test_a_backup_whose_stack_does_not_fit_changes_nothing(api, shop, settings):
    assert api.post(URL, {"backupName": "b1"}).status_code == 201
    config = settings.DATA_DIR / "backups/shop/b1/config.enc"
    saved = json.loads(crypto.decrypt(config.read_text()))
    config.write_text(crypto.encrypt(json.dumps({**saved, "linuxFxVersion": "NODE|20"})))
    AppSetting.objects.filter(app=shop).update(value="changed")
    r = api.post(URL + "/b1/restore", {})
    assert r.status_code == 422 and "NODE|20" in r.json()["error"]["message"]
    assert AppSetting.objects.get(app=shop).value == "changed"
    assert [b.name for b in backups.list_backups(shop)] == ["b1"]  # no pre-restore copy made


def test_a_home_whose_runtime_image_is_missing_is_refused_before_anything(api, shop, settings):
    assert api.post(URL, {"backupName": "b1"}).status_code == 201
    manifest = settings.DATA_DIR / "backups/shop/b1/manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "home": {"file": "home.tar.gz", "files": 1}}))
    AppSetting.objects.filter(app=shop).update(value="changed")
    with mock.patch("apps.engine.client.image_exists", return_value=False):
        r = api.post(URL + "/b1/restore", {})
    assert r.status_code == 409 and "Runtimes page" in r.json()["error"]["message"]
    assert AppSetting.objects.get(app=shop).value == "changed"


def test_a_restore_over_an_app_with_data_keeps_a_copy_of_it_first(api, shop, no_home):
    assert api.post(URL, {"backupName": "b1"}).status_code == 201
    no_home.return_value = True
    with mock.patch.object(homebackup, "export", autospec=True, return_value=None):
        assert api.post(URL + "/b1/restore", {}).status_code == 200
    names = {b.name: b.trigger for b in backups.list_backups(shop)}
    [kept] = [n for n, t in names.items() if t == "pre-restore"]
    assert kept.startswith("before-restore-")
