"""The per-app lock: two deploys or restarts of one app never run at once."""

from __future__ import annotations

import threading
import time

import pytest

from apps.deployments import services
from apps.deployments.models import Deployment
from apps.lifecycle import locks
from apps.lifecycle import operations as lifecycle_ops
from tests.deploy_helpers import lock_held_elsewhere

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def test_it_makes_a_second_holder_wait_until_the_first_is_done():
    events: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with locks.app_lock("myapp"):
            events.append("first in")
            first_in.set()
            time.sleep(0.5)
            events.append("first out")

    def second() -> None:
        first_in.wait(5)
        with locks.app_lock("myapp", timeout=5):
            events.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert events == ["first in", "first out", "second in"]


def test_it_gives_up_after_its_time_limit_with_a_clear_message():
    with lock_held_elsewhere("myapp"):
        started = time.monotonic()
        with (
            pytest.raises(locks.AppBusy, match="Another deployment or restart of myapp"),
            locks.app_lock("myapp", timeout=0.3),
        ):
            pass
        assert 0.3 <= time.monotonic() - started < 2
        assert locks.is_locked("myapp")
        assert not locks.is_locked("otherapp")  # one lock per app
    assert not locks.is_locked("myapp")


def test_it_is_reentrant_in_one_thread_and_lives_under_the_data_dir(tmp_path):
    with locks.app_lock("myapp"), locks.app_lock("myapp", timeout=0):
        assert locks.lock_path("myapp") == tmp_path / "locks" / "myapp.lock"
        assert locks.lock_path("myapp").exists()


def test_a_deployment_waits_for_the_running_one_then_runs(db, webapp, monkeypatch):
    d1 = Deployment.objects.create(app=webapp)
    d2 = Deployment.objects.create(app=webapp)
    running: list[int] = []
    overlaps: list[tuple[int, int]] = []

    def fake_run(deployment_id: int) -> Deployment:
        assert services.claim(deployment_id)
        if running:
            overlaps.append((running[0], deployment_id))
        running.append(deployment_id)
        time.sleep(0.4)
        running.remove(deployment_id)
        Deployment.objects.filter(pk=deployment_id).update(status=Deployment.Status.SUCCESS)
        return Deployment.objects.get(pk=deployment_id)

    monkeypatch.setattr(services, "_run_deployment", fake_run)
    # The holder thread stands in for another worker (no database use there).
    first_started = threading.Event()

    def first() -> None:
        with locks.app_lock(webapp.name):
            first_started.set()
            time.sleep(0.4)

    t = threading.Thread(target=first)
    t.start()
    first_started.wait(5)
    started = time.monotonic()
    assert services.run_deployment(d1.pk).status == "success"
    waited = time.monotonic() - started
    t.join(5)
    assert waited >= 0.2  # it waited for the holder
    assert services.run_deployment(d2.pk).status == "success"
    assert overlaps == []


def test_a_deployment_that_cannot_get_the_lock_fails_with_the_reason(db, webapp, monkeypatch):
    monkeypatch.setattr(locks, "lock_wait_limit", lambda start_limit=None: 0.3)
    d = Deployment.objects.create(app=webapp)
    with lock_held_elsewhere(webapp.name, hold=120):
        d = services.run_deployment(d.pk)
    assert d.status == "failed"
    assert "Another deployment or restart" in d.status_text


def test_a_restart_waits_for_a_deployment_of_the_same_app(db, webapp, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(
        lifecycle_ops,
        "_restart_app",
        lambda app, op, reason="": calls.append("restart") or lifecycle_ops.Outcome(True, "ok"),
    )
    monkeypatch.setattr(locks, "lock_wait_limit", lambda start_limit=None: 0.3)
    with lock_held_elsewhere(webapp.name):
        outcome = lifecycle_ops.restart_app(webapp)
    assert not outcome.ok
    assert "still running" in outcome.message
    assert calls == []
    assert lifecycle_ops.restart_app(webapp).ok
    assert calls == ["restart"]
