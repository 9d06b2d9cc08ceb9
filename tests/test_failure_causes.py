"""Structured failure causes (apps.core.failures): a failed deployment or
operation keeps a code and its evidence, set by the code that saw the
failure; state changes go through the models' conditional methods; and
Operation says "success" as a Deployment does (the API still says
"succeeded")."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.api import serializers
from apps.core import failures
from apps.deployments import services
from apps.deployments.models import Deployment
from apps.lifecycle import locks
from apps.lifecycle import operations as lifecycle_ops
from apps.webapps import operations
from apps.webapps.models import Operation
from tests.deploy_helpers import lock_held_elsewhere
from tests.operations_helpers import FakeEngine, serving_release

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _data(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False
    settings.BERTH_START_TIME_LIMIT = 2


@pytest.fixture
def fake(monkeypatch) -> FakeEngine:
    return FakeEngine().install(monkeypatch)


# --- the state machine ----------------------------------------------------------


def test_a_deployment_is_claimed_once(webapp):
    d = Deployment.objects.create(app=webapp)
    assert d.start() and d.status == Deployment.Status.BUILDING and d.started
    assert not Deployment.objects.get(pk=d.pk).start()


def test_a_deployment_moves_from_building_to_deploying_to_success(webapp):
    d = Deployment.objects.create(app=webapp)
    d.start()
    assert d.begin_release()
    assert d.succeed("Serving.")
    d.refresh_from_db()
    assert (d.status, d.status_text, d.failure_code) == ("success", "Serving.", "")
    assert d.finished is not None


def test_a_finished_deployment_is_never_failed_again(webapp):
    d = Deployment.objects.create(app=webapp)
    d.start()
    d.succeed("Serving.")
    assert not Deployment.objects.get(pk=d.pk).fail(failures.WORKER_LOST, "late")
    assert Deployment.objects.get(pk=d.pk).status == "success"


def test_a_failure_keeps_its_code_and_evidence(webapp):
    d = Deployment.objects.create(app=webapp)
    assert d.fail(failures.LOCK_TIMEOUT, "busy", {"waited_s": 3})
    d.refresh_from_db()
    assert (d.status, d.failure_code, d.failure_evidence) == (
        "failed",
        "lock_timeout",
        {"waited_s": 3},
    )


def test_an_operation_succeeds_only_while_running(webapp):
    op = operations.begin(webapp, Operation.Trigger.RESTART)
    assert not op.succeed("too early")
    assert op.start() and op.succeed("Restarted.")
    assert Operation.objects.get(pk=op.pk).status == "success"


# --- where the codes come from --------------------------------------------------


def test_a_container_that_stops_before_answering_fails_the_restart_as_exited(webapp, fake):
    d = serving_release(webapp)
    fake.containers[d.container] = "running"
    fake.healthy = False
    fake.app_log = ["Booting", "Traceback: it broke"]
    op = lifecycle_ops.restart_app(webapp).operation
    assert op.failure_code == failures.EXITED
    assert op.failure_evidence["exit_code"] == 3
    assert op.failure_evidence["container"] == fake.created[0]
    assert op.failure_evidence["last_lines"][-1] == "Traceback: it broke"


def test_a_busy_app_fails_the_restart_with_lock_timeout(webapp, fake, monkeypatch):
    monkeypatch.setattr(locks, "lock_wait_limit", lambda start_limit=None: 0.3)
    with lock_held_elsewhere(webapp.name):
        op = lifecycle_ops.restart_app(webapp).operation
    assert (op.status, op.failure_code) == ("failed", failures.LOCK_TIMEOUT)


def test_a_busy_app_fails_the_queued_deployment_with_lock_timeout(webapp, fake, monkeypatch):
    monkeypatch.setattr(locks, "lock_wait_limit", lambda start_limit=None: 0.3)
    d = serving_release(webapp)
    new = services.redeploy(d)
    with lock_held_elsewhere(webapp.name):
        failed = services.run_deployment(new.pk)
    assert (failed.status, failed.failure_code) == ("failed", failures.LOCK_TIMEOUT)


def test_a_redeploy_whose_container_never_answers_fails_with_its_code(webapp, fake):
    d = serving_release(webapp)
    fake.containers[d.container] = "running"
    fake.healthy = False
    failed = services.run_deployment(services.redeploy(d).pk)
    assert (failed.status, failed.failure_code) == ("failed", failures.EXITED)
    assert failed.failure_evidence["exit_code"] == 3


# --- what users see -------------------------------------------------------------


def test_the_api_shows_the_cause_and_keeps_saying_succeeded(webapp):
    op = operations.begin(webapp, Operation.Trigger.RESTART)
    op.start()
    op.succeed("Restarted.")
    assert serializers.operation(op)["status"] == "succeeded"
    assert serializers.operation(op)["failureCode"] is None
    failed = operations.begin(webapp, Operation.Trigger.RESTART)
    failed.start()
    failed.fail(failures.PROXY_REFUSED, "refused", {"reason": "emerg"})
    body = serializers.operation(failed)
    assert (body["status"], body["failureCode"]) == ("failed", "proxy_refused")
    assert body["failureEvidence"] == {"reason": "emerg"}


@pytest.mark.django_db(transaction=True)
def test_the_migration_renames_succeeded_operations_to_success(webapp):
    executor = MigrationExecutor(connection)
    executor.migrate([("webapps", "0004_resource_group_lowercase")])
    old = executor.loader.project_state([("webapps", "0004_resource_group_lowercase")]).apps
    OldOperation = old.get_model("webapps", "Operation")
    done = OldOperation.objects.create(app_id=webapp.pk, trigger="restart", status="succeeded")
    failed = OldOperation.objects.create(app_id=webapp.pk, trigger="restart", status="failed")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert Operation.objects.get(pk=done.pk).status == "success"
    assert Operation.objects.get(pk=failed.pk).status == "failed"
