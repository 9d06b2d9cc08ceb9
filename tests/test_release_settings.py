"""A release keeps the configuration it went live with; a rollback can put
it back, after showing what changes (values masked)."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from apps.deployments import services, snapshot, tasks
from apps.deployments.models import Deployment
from apps.lifecycle import cutover, release
from apps.webapps.models import AppSetting, ConnectionString

pytestmark = [pytest.mark.postgres]

SECRET = "s3cr3t-value-never-shown"


@pytest.fixture(autouse=True)
def _no_worker(monkeypatch):
    monkeypatch.setattr(tasks, "enqueue", lambda d: None)


def _release(webapp, **extra) -> Deployment:
    AppSetting.objects.create(app=webapp, name="GREETING", value=SECRET)
    AppSetting.objects.create(app=webapp, name="ONLY_THEN", value="old-only-value")
    ConnectionString.objects.create(app=webapp, name="db", value="postgres://u:pw@h/db")
    webapp.app_command_line = "gunicorn app:app"
    webapp.save()
    d = Deployment.objects.create(
        app=webapp, status=Deployment.Status.SUCCESS, image="berth/app-x:1", **extra
    )
    d.release_settings = json.dumps(snapshot.take(webapp, deployer="alice"))
    d.save()
    return d


def _change_today(webapp) -> None:
    AppSetting.objects.filter(app=webapp, name="GREETING").update(value="new greeting value")
    AppSetting.objects.filter(app=webapp, name="ONLY_THEN").delete()
    AppSetting.objects.create(app=webapp, name="ONLY_NOW", value="new-only-value")
    ConnectionString.objects.filter(app=webapp).update(type="PostgreSQL")
    webapp.app_command_line = "python app.py"
    webapp.linux_fx_version = "PYTHON|3.13"
    webapp.save()


def test_it_keeps_the_snapshot_encrypted_at_rest(webapp):
    d = _release(webapp)
    with connection.cursor() as cursor:
        cursor.execute("SELECT release_settings FROM deployments_deployment WHERE id = %s", [d.pk])
        stored = cursor.fetchone()[0]
    assert SECRET not in stored and "GREETING" not in stored
    again = Deployment.objects.get(pk=d.pk).snapshot
    assert again["appSettings"]["GREETING"]["value"] == SECRET
    assert again["connectionStrings"]["db"]["type"] == "Custom"
    assert again["appCommandLine"] == "gunicorn app:app"
    assert again["pythonVersion"] == "3.11" and again["deployer"] == "alice"


def test_it_diffs_names_and_never_values(webapp):
    d = _release(webapp)
    _change_today(webapp)
    diff = snapshot.diff(webapp, d.snapshot)
    changes = {(c.name, c.what) for c in diff.app_settings}
    assert changes == {("GREETING", "changed"), ("ONLY_NOW", "removed"), ("ONLY_THEN", "added")}
    assert [c.details for c in diff.connection_strings] == [("type PostgreSQL -> Custom",)]
    assert diff.app_command_line == ("python app.py", "gunicorn app:app")
    assert diff.linux_fx_version == ("PYTHON|3.13", "PYTHON|3.11")
    text = json.dumps(diff.as_dict())
    for value in (SECRET, "new greeting value", "old-only-value", "new-only-value", "pw@h"):
        assert value not in text
    assert "***" in text


def test_it_rolls_back_settings_with_the_code_when_asked(webapp, alice):
    d = _release(webapp)
    _change_today(webapp)
    new = services.redeploy(d, deployer=alice, restore_settings=True)
    assert new.image == d.image and new.source == Deployment.Source.ROLLBACK
    assert "with its settings" in new.message
    webapp.refresh_from_db()
    assert {s.name: s.value for s in webapp.app_settings.all()} == {
        "GREETING": SECRET,
        "ONLY_THEN": "old-only-value",
    }
    assert webapp.connection_strings.get().type == "Custom"
    assert webapp.app_command_line == "gunicorn app:app"
    assert webapp.linux_fx_version == "PYTHON|3.11"
    assert snapshot.diff(webapp, d.snapshot).empty


def test_it_leaves_settings_alone_without_the_tick(webapp, alice):
    d = _release(webapp)
    _change_today(webapp)
    services.redeploy(d, deployer=alice)
    webapp.refresh_from_db()
    assert webapp.app_command_line == "python app.py"
    assert AppSetting.objects.filter(app=webapp, name="ONLY_NOW").exists()


def test_it_refuses_to_restore_settings_a_release_never_kept(webapp, alice):
    d = Deployment.objects.create(app=webapp, status=Deployment.Status.SUCCESS, image="x:1")
    with pytest.raises(ValueError, match="before Berth kept settings"):
        services.redeploy(d, deployer=alice, restore_settings=True)


def test_the_confirm_step_shows_the_diff_masked(alice_client, webapp):
    d = _release(webapp)
    _change_today(webapp)
    page = alice_client.post(f"/apps/{webapp.name}/deployment-center/{d.pk}/redeploy")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="restore_settings"' in html
    assert "GREETING" in html and "ONLY_NOW" in html and "ONLY_THEN" in html
    assert "gunicorn app:app" in html and "PYTHON|3.13" in html
    for value in (SECRET, "new greeting value", "old-only-value", "new-only-value"):
        assert value not in html


def test_the_page_rolls_back_settings_when_ticked(alice_client, webapp):
    d = _release(webapp)
    _change_today(webapp)
    alice_client.post(
        f"/apps/{webapp.name}/deployment-center/{d.pk}/redeploy",
        {"confirmed": "1", "restore_settings": "1"},
    )
    webapp.refresh_from_db()
    assert webapp.app_command_line == "gunicorn app:app"
    new = Deployment.objects.filter(app=webapp).order_by("-pk").first()
    assert new.source == Deployment.Source.ROLLBACK and new.pk != d.pk


def test_the_api_rolls_back_settings_with_restore_settings(client, webapp):
    import base64

    d = _release(webapp)
    _change_today(webapp)
    token = base64.b64encode(f"{webapp.publishing_username}:{webapp.publishing_password}".encode())
    answer = client.post(
        f"/api/apps/{webapp.name}/deployments/{d.pk}/redeploy",
        data=json.dumps({"restoreSettings": True}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {token.decode()}",
    )
    assert answer.status_code == 202, answer.content
    assert answer.json()["restoreSettings"] is True
    webapp.refresh_from_db()
    assert webapp.app_command_line == "gunicorn app:app"
    assert SECRET not in answer.content.decode()


def test_a_successful_deployment_keeps_its_snapshot(webapp, monkeypatch, settings, tmp_path):
    """The service writes the snapshot at success (the engine faked)."""
    from apps.lifecycle import steps

    settings.DATA_DIR = tmp_path
    AppSetting.objects.create(app=webapp, name="GREETING", value=SECRET)
    d = Deployment.objects.create(app=webapp, image="berth/app-x:1", startup={})
    monkeypatch.setattr(release, "run_release", lambda app, dep, log: steps.Started("c", 1))
    monkeypatch.setattr(cutover, "swap", lambda *a: None)
    services.run_deployment(d.pk)
    d.refresh_from_db()
    assert d.status == Deployment.Status.SUCCESS
    assert d.snapshot["appSettings"]["GREETING"]["value"] == SECRET
    assert d.snapshot["finished"].startswith(str(d.finished.date()))


def test_a_failed_redeploy_puts_back_the_settings_it_replaced(
    webapp, monkeypatch, settings, tmp_path
):
    from apps.lifecycle.errors import DeployFailed

    settings.DATA_DIR = tmp_path
    d = _release(webapp)
    _change_today(webapp)
    before = snapshot.take(webapp)
    new = services.redeploy(d, restore_settings=True)
    assert AppSetting.objects.get(app=webapp, name="GREETING").value == SECRET  # restored

    def fail(*args, **kwargs):
        raise DeployFailed("the release did not answer HTTP")

    monkeypatch.setattr(release, "run_release", fail)
    done = services.run_deployment(new.pk)
    assert done.status == Deployment.Status.FAILED
    assert "Put back the settings" in done.log
    webapp.refresh_from_db()
    after = snapshot.take(webapp)
    assert after["appSettings"] == before["appSettings"]
    assert after["connectionStrings"] == before["connectionStrings"]
    assert after["appCommandLine"] == "python app.py"
