"""Restarts with visible status, against the real engine: a settings Save
restarts a deployed app and each step is recorded in order; a startup
command that never listens fails the restart at the health check while the
previous container keeps serving; and a worker killed in the middle of a
restart leaves the operation failed by the reconcile the next worker runs at
start, never "running" forever."""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path
from unittest import mock

import pytest
import requests

from apps.deployments import services, tasks
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.lifecycle import operations as lifecycle_ops
from apps.proxy import nginx
from apps.proxy.errors import ProxyError
from apps.webapps import services as config
from apps.webapps.models import Operation, WebApp
from tests.deploy_helpers import cleanup_app, zip_files, zip_sample
from tests.faults_helpers import Stack, free_port, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.runtime]

APP = """
import os
from flask import Flask
app = Flask(__name__)

@app.route("/")
def index():
    return {"greeting": os.environ.get("GREETING", "")}
"""
# Runs, prints, and never listens on the port (and never exits, so there is
# no fallback to the detected command either).
NEVER_LISTENS = "echo never listening on purpose && sleep 600"


def get(port: int) -> requests.Response:
    session = requests.Session()
    session.trust_env = False  # 127.0.0.1 only
    return session.get(f"http://127.0.0.1:{port}/", timeout=10)


def steps(op: Operation) -> list[tuple[str, str]]:
    return [(s["name"], s["status"]) for s in op.steps]


@pytest.fixture
def app(make_app, deploy_settings) -> WebApp:
    deploy_settings.BERTH_START_TIME_LIMIT = 12
    return make_app("op")


@pytest.fixture
def worker():
    """The restart task runs as the worker would run it, here and now."""
    with mock.patch(
        "apps.deployments.tasks.restart.delay", side_effect=lambda **kw: tasks.restart(**kw)
    ) as delay:
        yield delay


def deploy(app: WebApp) -> Deployment:
    d = services.run_deployment(services.create_deployment(app, zip_files({"app.py": APP})).pk)
    assert d.status == Deployment.Status.SUCCESS, d.log
    return d


@pytest.mark.django_db(transaction=True)
def test_a_settings_save_restarts_and_records_each_step_in_order(app, alice, worker):
    first = deploy(app)
    assert get(first.host_port).json() == {"greeting": ""}

    config.set_app_settings(app, [config.SettingInput("GREETING", "hello")], actor=alice)

    op = Operation.objects.get(app=app)
    assert (op.trigger, op.actor_name) == ("settings", "alice")
    assert op.status == "success", (op.message, op.app_log)
    assert steps(op) == [
        ("start", "done"),
        ("health", "done"),
        ("switch", "done"),
        ("retire", "done"),
    ]
    times = [datetime.fromisoformat(t) for s in op.steps for t in (s["started"], s["finished"])]
    assert times == sorted(times), op.steps
    active = lifecycle_ops.active_deployment(app)
    assert active.container != first.container and op.serving == active.container
    assert op.steps[0]["detail"] == f"{active.container} on 127.0.0.1:{active.host_port}"
    assert op.steps[1]["detail"].startswith("GET / answered 200 after ")
    assert op.steps[3]["detail"] == f"stopped and removed {first.container}"
    assert get(active.host_port).json() == {"greeting": "hello"}
    assert not engine.container_exists(first.container)


@pytest.mark.django_db(transaction=True)
def test_a_startup_command_that_never_listens_fails_and_the_old_container_serves(
    app, alice, worker
):
    first = deploy(app)

    config.update_general_settings(app, app_command_line=NEVER_LISTENS, actor=alice)

    op = Operation.objects.get(app=app)
    assert (op.trigger, op.status) == ("general", "failed"), op.message
    assert steps(op) == [
        ("start", "done"),
        ("health", "failed"),
        ("switch", "pending"),
        ("retire", "pending"),
    ]
    assert "didn't respond to HTTP pings on port: 8000 within 12 s" in op.message
    assert "never listening on purpose" in op.app_log
    # The previous container still serves, and the page/API say so.
    assert op.serving == first.container
    assert lifecycle_ops.active_deployment(app).container == first.container
    assert get(first.host_port).json() == {"greeting": ""}
    # The container that never listened is gone.
    assert engine.find_containers({"io.berth.app": app.name, "io.berth.role": "app"}) == [
        first.container
    ]


@pytest.mark.django_db(transaction=True)
def test_a_proxy_that_refuses_the_new_route_fails_the_restart_and_the_old_container_serves(
    app, deploy_settings, monkeypatch
):
    first = deploy(app)
    deploy_settings.BERTH_PROXY_ROUTING = True
    # nginx's config test refusing the new route, as set_route reports it.
    refusal = "nginx: [emerg] invalid number of arguments in upstream"
    monkeypatch.setattr(nginx, "routes", lambda: {})
    monkeypatch.setattr(nginx, "set_route", mock.Mock(side_effect=ProxyError(refusal)))

    outcome = lifecycle_ops.restart_app(app, reason="test")

    op = outcome.operation
    assert not outcome.ok and op.status == "failed"
    assert refusal in op.message and op.failure_code == "proxy_refused"
    assert steps(op)[2] == ("switch", "failed")
    assert lifecycle_ops.active_deployment(app).container == first.container
    assert op.serving == first.container
    assert get(first.host_port).json() == {"greeting": ""}
    # The new container, healthy but never routed, is gone.
    assert engine.find_containers({"io.berth.app": app.name, "io.berth.role": "app"}) == [
        first.container
    ]


# --- a worker killed mid-restart --------------------------------------------------

SETTINGS_MODULE = """
from portal.settings import *  # noqa: F403

BERTH_PROXY_ROUTING = False  # no nginx here: the app is reached on its own port
"""

SETUP = """
from pathlib import Path
from django.contrib.auth.models import User
from apps.deployments import services
from apps.webapps.models import WebApp
alice = User.objects.create_user("alice", "alice@example.org", "alice-password-1")
app = WebApp.objects.create(name=%r, owner=alice)
d = services.run_deployment(services.create_deployment(app, Path(%r)).pk)
out = {"status": d.status, "container": d.container, "port": d.host_port, "log": d.log[-3000:]}
"""

SAVE = """
from django.contrib.auth.models import User
from apps.webapps import services
from apps.webapps.models import WebApp
app = WebApp.objects.get(name=%r)
services.update_general_settings(
    app, app_command_line=%r, actor=User.objects.get(username="alice")
)
out = list(app.operations.values_list("pk", flat=True))
"""

READ = """
from apps.webapps.models import Operation
op = Operation.objects.get(pk=%d)
out = {"status": op.status, "message": op.message, "serving": op.serving, "steps": op.steps}
"""


@pytest.fixture
def stack(tmp_path) -> Stack:
    """A worker as the README runs it, on its own data folder and SQLite file."""
    (tmp_path / "op_e2e_settings.py").write_text(SETTINGS_MODULE)
    data = tmp_path / "data"
    data.mkdir()
    s = Stack(data, http_port=free_port(), https_port=free_port())
    s.env.update(
        DJANGO_SETTINGS_MODULE="op_e2e_settings",
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(Path(__file__).resolve().parents[1])]),
        BERTH_START_TIME_LIMIT="300",  # the health check waits until the worker is killed
    )
    s.manage("migrate", "--noinput", "-v0")
    yield s
    s.stop("worker")


def test_a_worker_killed_mid_restart_leaves_it_failed_by_the_next_workers_reconcile(
    stack, tmp_path
):
    name = f"op-kill-{secrets.token_hex(3)}"
    package = tmp_path / "app.zip"
    package.write_bytes(zip_sample("echo_app"))
    try:
        first = stack.shell(SETUP % (name, str(package)), timeout=300)
        assert first["status"] == "success", first["log"]
        assert get(first["port"]).json()["version"] == "v1"

        stack.start_worker()
        (pk,) = stack.shell(SAVE % (name, NEVER_LISTENS))

        def health_check_under_way():
            op = stack.shell(READ % pk)
            return op["steps"][1]["status"] == "running" and op

        wait_for(health_check_under_way, 120, "the restart's health check to begin", every=1)
        stack.kill("worker")
        assert stack.shell(READ % pk)["status"] == "running"  # what the dead worker left
        assert get(first["port"]).json()["version"] == "v1"

        stack.start_worker()  # reconciles at start
        op = wait_for(
            lambda: (op := stack.shell(READ % pk))["status"] == "failed" and op,
            120,
            "the next worker's reconcile to fail the operation",
            every=1,
        )
        assert "never finished" in op["message"] and "found by reconcile" in op["message"]
        assert op["serving"] == first["container"]
        assert [s["status"] for s in op["steps"]] == ["done", "failed", "pending", "pending"]
        assert get(first["port"]).json()["version"] == "v1"
        # The container the dead worker had started is removed by the same reconcile.
        assert engine.find_containers({"io.berth.app": name, "io.berth.role": "app"}) == [
            first["container"]
        ]
    except BaseException:
        print(stack.log("worker")[-5000:])
        raise
    finally:
        stack.stop("worker")
        cleanup_app(name)
