"""reconcile: the portal's record and the engine agree again (engine faked
here; tests/test_deploy_matrix_e2e.py does it against the real one)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.deployments.models import Deployment
from apps.lifecycle import locks, reconcile
from apps.logs import archive
from apps.webapps.models import WebApp
from tests.deploy_helpers import lock_held_elsewhere

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _fake_engine(settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False
    removed: list[str] = []
    monkeypatch.setattr(reconcile.engine, "find_containers", lambda labels: [])
    monkeypatch.setattr(reconcile.engine, "remove_container", removed.append)
    # What a removed container printed goes to the log archive first
    # (tests/test_retire_archive.py); nothing printed here.
    monkeypatch.setattr(reconcile.engine, "stop_container", lambda name, timeout=5: None)
    monkeypatch.setattr(archive, "keep_last_lines", lambda app_name, names, **kw: [])
    return removed


def test_it_fails_a_deployment_stuck_in_building_and_leaves_the_old_release(webapp, _fake_engine):
    old = Deployment.objects.create(
        app=webapp, status="success", active=True, image="berth/app-x:1", container=""
    )
    webapp.state = WebApp.State.STOPPED
    webapp.save()
    stuck = Deployment.objects.create(app=webapp, status="building", log="12:00:00 Building\n")
    done = reconcile.reconcile(webapp)
    stuck.refresh_from_db()
    assert stuck.status == "failed"
    assert "worker stopped during the build" in stuck.status_text
    assert "worker stopped during the build" in stuck.log
    assert stuck.log.startswith("12:00:00 Building")
    assert stuck.finished is not None
    assert f"berth-build-{webapp.name}-{stuck.pk}" in _fake_engine
    assert any(f"deployment {stuck.pk}" in line for line in done)
    old.refresh_from_db()
    assert old.active and old.status == "success"


def test_it_leaves_a_deployment_alone_while_its_worker_holds_the_lock(webapp):
    webapp.state = WebApp.State.STOPPED
    webapp.save()
    building = Deployment.objects.create(app=webapp, status="building")
    with lock_held_elsewhere(webapp.name):
        assert reconcile.reconcile(webapp) == []
    building.refresh_from_db()
    assert building.status == "building"


def test_it_fails_only_queued_deployments_older_than_a_build_could_take(webapp):
    webapp.state = WebApp.State.STOPPED
    webapp.save()
    fresh = Deployment.objects.create(app=webapp)
    lost = Deployment.objects.create(app=webapp)
    Deployment.objects.filter(pk=lost.pk).update(
        created=timezone.now() - timedelta(seconds=locks.lock_wait_limit() + 60)
    )
    reconcile.reconcile(webapp)
    fresh.refresh_from_db()
    lost.refresh_from_db()
    assert fresh.status == "queued"
    assert lost.status == "failed"
    assert "No worker picked this deployment up" in lost.status_text


def test_the_reconcile_command_reports_what_it_changed(webapp):
    webapp.state = WebApp.State.STOPPED
    webapp.save()
    Deployment.objects.create(app=webapp, status="deploying")
    from io import StringIO

    out = StringIO()
    call_command("reconcile", webapp.name, stdout=out)
    assert "worker stopped during the build" in out.getvalue()
    assert "Reconciled: 1 change(s)." in out.getvalue()


def test_the_worker_reconciles_when_it_starts(monkeypatch):
    from apps.deployments import tasks

    sent: list[str] = []
    monkeypatch.setattr(tasks.reconcile_all, "delay", lambda: sent.append("reconcile"))
    from celery.signals import worker_ready

    worker_ready.send(sender=None)
    assert sent == ["reconcile"]


def test_beat_runs_reconcile_periodically(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["berth-reconcile"]
    assert entry["task"] == "deployments.reconcile_all"


def test_it_removes_app_containers_that_are_not_the_serving_one(webapp, monkeypatch):
    # A worker killed mid-restart leaves its half-started container running.
    Deployment.objects.create(
        app=webapp, status="success", active=True, image="berth/app-x:1", container="serving",
        host_port=40001,
    )  # fmt: skip
    engine = reconcile.engine
    running = {"serving", "half-started"}
    monkeypatch.setattr(engine, "find_containers", lambda labels: sorted(running))
    monkeypatch.setattr(reconcile, "_container_status", lambda name: "running")
    monkeypatch.setattr(engine, "published_port", lambda name, port: 40001)
    monkeypatch.setattr(engine, "remove_container", running.discard)
    done = reconcile.reconcile(webapp)
    assert running == {"serving"}
    assert done == [f"{webapp.name}: removed half-started, not the serving container"]
    assert reconcile.reconcile(webapp) == []


def test_a_queued_deployment_waits_as_long_as_the_apps_own_start_limit(webapp):
    """WEBSITES_CONTAINER_START_TIME_LIMIT (up to 1800 s) lengthens what a
    deployment queued behind a starting one may wait before it counts as lost."""
    webapp.state = WebApp.State.STOPPED
    webapp.save()
    webapp.app_settings.create(name="WEBSITES_CONTAINER_START_TIME_LIMIT", value="1800")
    waiting = Deployment.objects.create(app=webapp)
    Deployment.objects.filter(pk=waiting.pk).update(
        created=timezone.now() - timedelta(seconds=locks.lock_wait_limit() + 60)
    )
    reconcile.reconcile(webapp)
    waiting.refresh_from_db()
    assert waiting.status == "queued"
    assert locks.lock_wait_limit(1800) > locks.lock_wait_limit() + 60
