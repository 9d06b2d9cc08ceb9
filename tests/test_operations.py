"""The record of a restart, start or stop (apps.webapps.operations): queued
when asked for, claimed once, its steps reported by the real restart code
(apps.deployments.services and release, on a fake engine here; against the
real one in tests/test_operations_e2e.py), failed with the reason, and
failed by reconcile when whoever ran it died."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from apps.lifecycle import locks, reconcile, release, steps
from apps.lifecycle import operations as lifecycle_ops
from apps.webapps import operations
from apps.webapps import services as config
from apps.webapps.models import AppSetting, Operation, WebApp
from tests.deploy_helpers import lock_held_elsewhere
from tests.operations_helpers import FakeEngine, serving_release

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

SECRET = "hunter2-secret-value"


@pytest.fixture(autouse=True)
def _data(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False
    settings.BERTH_START_TIME_LIMIT = 2


@pytest.fixture
def fake(monkeypatch) -> FakeEngine:
    return FakeEngine().install(monkeypatch)


def states(op: Operation) -> list[tuple[str, str]]:
    op.refresh_from_db()
    return [(s["name"], s["status"]) for s in op.steps]


# --- the record ---------------------------------------------------------------


def test_begin_records_a_queued_restart_with_its_four_steps_and_who(webapp, alice):
    op = operations.begin(webapp, Operation.Trigger.SETTINGS, actor=alice, reason="x")
    assert (op.status, op.actor_name, op.kind) == ("queued", "alice", "Restart")
    assert [s["name"] for s in op.steps] == ["start", "health", "switch", "retire"]
    assert [s["title"] for s in op.steps] == [
        "Starting the new container",
        "Waiting for HTTP (health check)",
        "Switching traffic",
        "Stopping the old container",
    ]
    assert {s["status"] for s in op.steps} == {"pending"}


def test_a_stop_has_two_steps(webapp):
    op = operations.begin(webapp, Operation.Trigger.STOP)
    assert [s["name"] for s in op.steps] == ["switch", "retire"]
    assert op.actor is None and op.actor_name == ""


def test_the_steps_are_the_ones_release_reports():
    names = [name for name, _ in operations.RESTART_STEPS]
    assert names == [
        steps.STEP_START,
        steps.STEP_HEALTH,
        steps.STEP_SWITCH,
        steps.STEP_RETIRE,
    ]


def test_an_operation_is_claimed_once(webapp):
    op = operations.begin(webapp, Operation.Trigger.RESTART)
    assert lifecycle_ops.Recorder.claim(op) is not None
    assert lifecycle_ops.Recorder.claim(Operation.objects.get(pk=op.pk)) is None


def test_the_recorder_reports_steps_and_the_progress_follows(webapp):
    op = operations.begin(webapp, Operation.Trigger.RESTART)
    recorder = lifecycle_ops.Recorder.claim(op)
    assert operations.progress(op)["percent"] == 0
    recorder("start", "running", "berth-x-1 from berth/app-x:1")
    p = operations.progress(Operation.objects.get(pk=op.pk))
    assert (p["percent"], p["label"]) == (12, "Starting the new container…")
    recorder("start", "done", "berth-x-1 on 127.0.0.1:4000")
    recorder("health", "running", "GET /")
    op.refresh_from_db()
    assert states(op)[:2] == [("start", "done"), ("health", "running")]
    assert op.steps[0]["detail"] == "berth-x-1 on 127.0.0.1:4000"
    assert op.steps[0]["started"] <= op.steps[0]["finished"]
    assert operations.progress(op)["percent"] == 38


def test_a_failure_marks_the_step_under_way_and_keeps_the_reason(webapp):
    op = operations.begin(webapp, Operation.Trigger.RESTART)
    recorder = lifecycle_ops.Recorder.claim(op)
    recorder("start", "done", "")
    recorder("health", "running", "")
    recorder.fail(
        "start_timeout",
        "didn't respond to HTTP pings",
        {"limit_s": 2},
        app_log="boom",
        serving="berth-x-1",
    )
    assert states(op) == [
        ("start", "done"),
        ("health", "failed"),
        ("switch", "pending"),
        ("retire", "pending"),
    ]
    assert (op.status, op.message, op.app_log, op.serving) == (
        "failed",
        "didn't respond to HTTP pings",
        "boom",
        "berth-x-1",
    )
    assert (op.failure_code, op.failure_evidence) == ("start_timeout", {"limit_s": 2})
    assert op.finished is not None
    p = operations.progress(op)
    assert p["failed"] and p["label"] == "Failed at: Waiting for HTTP (health check)"


def test_success_skips_the_steps_it_did_not_need(webapp):
    op = operations.begin(webapp, Operation.Trigger.RESTART)
    lifecycle_ops.Recorder.claim(op).succeed("Nothing to restart: the app has no release yet.")
    assert {s for _, s in states(op)} == {"skipped"}
    assert operations.progress(op)["percent"] == 100


def test_a_late_write_never_revives_a_failed_operation(webapp):
    op = operations.begin(webapp, Operation.Trigger.RESTART)
    recorder = lifecycle_ops.Recorder.claim(op)
    Operation.objects.filter(pk=op.pk).update(status="failed", message="found by reconcile")
    recorder("start", "done", "")
    recorder.succeed("Restarted")
    op.refresh_from_db()
    assert (op.status, op.message) == ("failed", "found by reconcile")


def test_only_the_last_finished_operations_are_kept(webapp, monkeypatch):
    monkeypatch.setattr(operations, "KEEP", 3)
    for _ in range(5):
        lifecycle_ops.Recorder.claim(operations.begin(webapp, Operation.Trigger.RESTART)).succeed(
            "ok"
        )
    running = operations.begin(webapp, Operation.Trigger.RESTART)
    assert Operation.objects.filter(app=webapp).count() == 4
    assert Operation.objects.filter(pk=running.pk).exists()


# --- the restart path reports its steps -----------------------------------------


def test_a_restart_reports_each_step_in_order_from_the_real_code(webapp, alice, fake):
    d = serving_release(webapp)
    fake.containers[d.container] = "running"
    outcome = lifecycle_ops.restart_app(webapp, reason="test", actor=alice)
    op = outcome.operation
    assert outcome.ok, outcome.message
    assert states(op) == [
        ("start", "done"),
        ("health", "done"),
        ("switch", "done"),
        ("retire", "done"),
    ]
    new = fake.created[0]
    assert op.steps[0]["detail"].startswith(f"{new} on 127.0.0.1:")
    assert op.steps[1]["detail"].startswith("GET / answered 200 after")
    assert op.steps[2]["detail"].startswith(f"{new} serves")
    assert op.steps[3]["detail"] == f"stopped and removed {d.container}"
    started = [s["started"] for s in op.steps]
    assert started == sorted(started)
    assert (op.status, op.serving, op.actor_name) == ("success", new, "alice")
    assert op.message == f"Restarted: serving from {new}."
    assert fake.events.index(f"create {new}") < fake.events.index(f"stop {d.container}")


def test_a_failed_health_check_fails_the_restart_and_the_old_container_serves(webapp, fake):
    AppSetting.objects.create(app=webapp, name="PASSWORD", value=SECRET)
    d = serving_release(webapp)
    fake.containers[d.container] = "running"
    fake.healthy = False
    fake.app_log = ["Booting", f"password is {SECRET}", "Traceback: it broke"]
    outcome = lifecycle_ops.restart_app(webapp)
    op = outcome.operation
    assert not outcome.ok
    assert states(op) == [
        ("start", "done"),
        ("health", "failed"),
        ("switch", "pending"),
        ("retire", "pending"),
    ]
    assert op.status == "failed"
    assert "before answering HTTP on port 8000" in op.message
    assert op.serving == d.container
    assert "Traceback: it broke" in op.app_log and SECRET not in op.app_log
    assert fake.containers == {d.container: "running"}  # the new one is gone


def test_nothing_to_restart_is_a_success_that_says_so(webapp, fake):
    outcome = lifecycle_ops.restart_app(webapp)
    assert (
        outcome.ok
        and outcome.operation.message == "Nothing to restart: the app has no release yet."
    )


def test_a_busy_app_fails_the_queued_operation_with_the_reason(webapp, fake, monkeypatch):
    monkeypatch.setattr(locks, "lock_wait_limit", lambda start_limit=None: 0.3)
    with lock_held_elsewhere(webapp.name):
        outcome = lifecycle_ops.restart_app(webapp)
    op = outcome.operation
    op.refresh_from_db()
    assert op.status == "failed" and "still running" in op.message
    assert {s for _, s in states(op)} == {"pending"}


def test_an_error_in_berth_fails_the_operation_and_is_raised(webapp, fake, monkeypatch):
    serving_release(webapp)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(release, "run_release", broken)
    with pytest.raises(RuntimeError):
        lifecycle_ops.restart_app(webapp)
    op = Operation.objects.get(app=webapp)
    assert op.status == "failed" and "An error in Berth" in op.message


def test_a_stop_records_its_two_steps(webapp, alice, fake):
    d = serving_release(webapp)
    fake.containers[d.container] = "running"
    outcome = lifecycle_ops.stop_app(webapp, actor=alice)
    assert states(outcome.operation) == [("switch", "done"), ("retire", "done")]
    assert outcome.operation.status == "success"
    webapp.refresh_from_db()
    assert webapp.state == "Stopped" and fake.containers == {}


def test_a_start_of_a_running_app_says_already_running(webapp, fake):
    d = serving_release(webapp)
    fake.containers[d.container] = "running"
    outcome = lifecycle_ops.start_app(webapp)
    op = outcome.operation
    assert (op.trigger, op.status, op.message, op.serving) == (
        "start",
        "success",
        "Already running.",
        d.container,
    )


def test_a_duplicate_task_does_not_restart_twice(webapp, fake):
    d = serving_release(webapp)
    fake.containers[d.container] = "running"
    op = operations.begin(webapp, Operation.Trigger.SETTINGS)
    lifecycle_ops.restart_app_by_id(webapp.pk, operation_id=op.pk)
    lifecycle_ops.restart_app_by_id(webapp.pk, operation_id=op.pk)
    assert len(fake.created) == 1
    op.refresh_from_db()
    assert op.status == "success"


# --- a Save records the restart it asks for ---------------------------------------


def test_a_settings_save_records_the_restart_and_hands_its_id_to_the_task(
    webapp, alice, django_capture_on_commit_callbacks
):
    with (
        mock.patch("apps.deployments.tasks.restart.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        config.set_app_settings(webapp, [config.SettingInput("A", "1")], actor=alice)
    op = Operation.objects.get(app=webapp)
    assert (op.trigger, op.status, op.actor_name, op.reason) == (
        "settings",
        "queued",
        "alice",
        "app settings changed",
    )
    delay.assert_called_once_with(app_id=webapp.pk, reason=op.reason, operation_id=op.pk)


def test_a_general_settings_save_is_its_own_trigger(webapp, django_capture_on_commit_callbacks):
    with (
        mock.patch("apps.deployments.tasks.restart.delay"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        config.update_general_settings(webapp, app_command_line="gunicorn app:app")
    op = Operation.objects.get(app=webapp)
    assert op.trigger == "general" and "app_command_line" in op.reason


def test_a_save_on_a_stopped_app_records_nothing(webapp):
    WebApp.objects.filter(pk=webapp.pk).update(state="Stopped")
    webapp.refresh_from_db()
    with mock.patch("apps.deployments.tasks.restart.delay") as delay:
        config.set_app_settings(webapp, [config.SettingInput("A", "1")])
    assert not Operation.objects.exists()
    delay.assert_not_called()


def test_the_power_task_runs_the_operation_it_is_given(webapp, fake):
    from apps.deployments import tasks

    d = serving_release(webapp)
    fake.containers[d.container] = "running"
    op = operations.begin(webapp, Operation.Trigger.RESTART)
    tasks.power(app_id=webapp.pk, action="restart", operation_id=op.pk)
    op.refresh_from_db()
    assert op.status == "success" and len(fake.created) == 1


# --- reconcile fails what nobody runs any more --------------------------------------


def test_reconcile_fails_a_running_operation_whose_worker_died(webapp, fake):
    d = serving_release(webapp)
    fake.containers[d.container] = "running"
    op = operations.begin(webapp, Operation.Trigger.SETTINGS)
    recorder = lifecycle_ops.Recorder.claim(op)
    recorder("start", "done", "")
    recorder("health", "running", "")
    # ... and the worker is killed here: nobody holds the app's lock.
    done = reconcile.reconcile(webapp)
    op.refresh_from_db()
    assert op.status == "failed"
    assert "never finished" in op.message and "found by reconcile" in op.message
    assert op.serving == d.container
    assert states(op)[1] == ("health", "failed")
    assert any(f"operation {op.pk}" in line for line in done)


def test_reconcile_leaves_a_running_operation_alone_while_its_worker_holds_the_lock(webapp):
    op = operations.begin(webapp, Operation.Trigger.RESTART)
    lifecycle_ops.Recorder.claim(op)
    with lock_held_elsewhere(webapp.name):
        reconcile.reconcile(webapp)
    op.refresh_from_db()
    assert op.status == "running"


def test_reconcile_fails_only_queued_operations_older_than_a_restart_could_wait(webapp, fake):
    young = operations.begin(webapp, Operation.Trigger.SETTINGS)
    old = operations.begin(webapp, Operation.Trigger.RESTART)
    Operation.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=1))
    reconcile.reconcile(webapp)
    young.refresh_from_db()
    old.refresh_from_db()
    assert young.status == "queued"
    assert old.status == "failed" and "No worker picked this restart up" in old.message
