"""The first connection to a service builds its image in the background:
the request answers at once (202 and where to poll), the worker's task
makes the connection with its progress recorded, a failure keeps its
reason, and the page, the API and the CLI show it. The services are
replaced here; the real build is in tests/test_dataservices.py."""

# The fixtures come from tests.apiutil; test arguments naming them are not redefinitions.
# ruff: noqa: F811
from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest

from apps.access.models import Role, RoleAssignment
from apps.databases import connections, pending, postgres, redis, tasks
from apps.databases.models import ServiceConnection
from apps.engine.errors import EngineError
from apps.webapps.models import AppSetting, WebApp
from berth_cli import commands
from berth_cli.errors import CliError
from tests.apiutil import alice_token, api, error_code  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

URL = "/api/apps/shop/connections"
PROGRESS = "/api/apps/shop/connection-progress/postgres-flexible"


@pytest.fixture
def shop(alice, settings, tmp_path) -> WebApp:
    settings.DATA_DIR = tmp_path
    app = WebApp.objects.create(name="shop", owner=alice, state=WebApp.State.STOPPED)
    RoleAssignment.objects.get_or_create(app=app, user=alice, role=Role.OWNER)
    return app


@pytest.fixture
def building():
    """No image yet: connecting queues; the 'build' reports progress."""

    def ensure_running(progress=None):
        for percent in (2, 40, 100):
            progress(percent, f"debootstrap step {percent}")

    with (
        mock.patch.object(connections, "needs_build", autospec=True, return_value=True),
        mock.patch.object(postgres, "ensure_running", side_effect=ensure_running) as up,
        mock.patch.object(postgres, "create_database", autospec=True, return_value=True),
        mock.patch.object(redis, "ensure_running", autospec=True),
        mock.patch.object(tasks.connect, "delay", autospec=True) as queued,
    ):
        yield SimpleNamespace(up=up, queued=queued)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what a request leaves for after its commit (the queueing)."""

    def run(do):
        with django_capture_on_commit_callbacks(execute=True):
            return do()

    return run


def test_the_first_connection_answers_at_once_and_the_worker_makes_it(
    api, shop, building, committed
):
    r = committed(
        lambda: api.post(URL, {"targetType": "postgres-flexible", "clientType": "django"})
    )
    assert r.status_code == 202, r.content
    assert r["Location"] == PROGRESS and r.json()["status"] == "queued"
    assert not ServiceConnection.objects.exists() and not AppSetting.objects.exists()
    building.up.assert_not_called()  # nothing built in the request
    [call] = building.queued.call_args_list
    tasks.connect(**call.kwargs)  # what the worker runs
    state = api.get(PROGRESS).json()
    assert (state["status"], state["percent"]) == ("done", 100)
    assert any("debootstrap step 40" in line for line in state["log"])
    made = ServiceConnection.objects.get(app=shop)
    assert (made.name, made.client_type) == ("postgres_flexible", "django")
    assert "AZURE_POSTGRESQL_PASSWORD" in set(
        AppSetting.objects.filter(app=shop).values_list("name", flat=True)
    )
    tasks.connect(**call.kwargs)  # a duplicate task is harmless
    assert api.get(PROGRESS).json()["status"] == "done"
    assert ServiceConnection.objects.filter(app=shop).count() == 1


def test_a_second_create_while_one_is_queued_is_refused(api, shop, building, committed):
    assert committed(lambda: api.post(URL, {"targetType": "postgres-flexible"})).status_code == 202
    again = committed(lambda: api.post(URL, {"targetType": "postgres-flexible"}))
    assert again.status_code == 409 and error_code(again) == "Conflict"
    assert "already being connected" in again.json()["error"]["message"]
    assert building.queued.call_count == 1


def test_a_failed_build_keeps_its_reason_and_changes_nothing(api, shop, building, committed):
    building.up.side_effect = EngineError("Cannot build PostgreSQL here: no Debian archive")
    committed(lambda: api.post(URL, {"targetType": "postgres-flexible"}))
    tasks.connect(**building.queued.call_args.kwargs)
    state = api.get(PROGRESS).json()
    assert state["status"] == "failed" and state["errorCode"] == "ServiceUnavailable"
    assert "no Debian archive" in state["error"]
    assert not ServiceConnection.objects.exists() and not AppSetting.objects.exists()
    # Trying again is allowed: the failure is not "busy".
    assert committed(lambda: api.post(URL, {"targetType": "postgres-flexible"})).status_code == 202


def test_the_page_shows_the_progress_and_stops_polling_when_done(
    alice_client, shop, building, committed
):
    create = "/apps/shop/connector/create/"
    r = committed(lambda: alice_client.post(create, {"target": "postgres-flexible"}))
    assert r.status_code == 302
    page = alice_client.get("/apps/shop/connector/")
    assert b'id="pending-postgres-flexible"' in page.content and b"every 2s" in page.content
    poll = alice_client.get("/apps/shop/connector/progress/postgres-flexible/")
    assert poll.status_code == 200 and b"queued" in poll.content
    tasks.connect(**building.queued.call_args.kwargs)
    done = alice_client.get("/apps/shop/connector/progress/postgres-flexible/")
    assert done.status_code == 286 and done["HX-Refresh"] == "true"
    page = alice_client.get("/apps/shop/connector/")
    assert b'id="connection-postgres_flexible"' in page.content
    assert b"pending-postgres-flexible" not in page.content


def test_the_page_says_why_a_connection_failed(alice_client, shop, building, committed):
    building.up.side_effect = EngineError("Cannot build PostgreSQL here: debootstrap is missing")
    create = "/apps/shop/connector/create/"
    committed(lambda: alice_client.post(create, {"target": "postgres-flexible"}))
    tasks.connect(**building.queued.call_args.kwargs)
    page = alice_client.get("/apps/shop/connector/").content.decode()
    assert "badge-failed" in page and "debootstrap is missing" in page


def test_a_stalled_connection_is_not_called_busy(shop):
    state = pending.Pending("shop", "redis", "redis", "python")
    assert state.busy
    state.updated -= pending.PATIENCE + 1
    assert state.stalled and not state.busy


def test_the_cli_follows_the_progress_then_shows_the_connection(monkeypatch, capsys):
    answers = [
        {"status": "running", "percent": 40, "message": "Unpacking", "name": "pg"},
        {"status": "done", "percent": 100, "message": "ready", "name": "pg"},
        {"name": "pg", "targetType": "postgres-flexible"},
    ]
    client = mock.Mock()
    client.call.side_effect = lambda *a, **k: answers.pop(0)
    monkeypatch.setattr(commands, "POLL_EVERY", 0)
    args = SimpleNamespace(name="shop", target="postgres-flexible", resource_group=None)
    first = {"status": "queued", "percent": 0, "message": "Queued", "name": "pg"}
    shown = commands._wait_for_connection(client, args, first)
    assert shown == {"name": "pg", "targetType": "postgres-flexible"}
    assert "Connecting: 40% Unpacking" in capsys.readouterr().err
    failed = {
        "status": "failed",
        "percent": 10,
        "message": "x",
        "error": "no archive",
        "name": "pg",
    }
    with pytest.raises(CliError, match="no archive"):
        commands._wait_for_connection(client, args, failed)


def test_the_create_page_queues_the_database_and_says_where_to_watch(
    alice_client, alice, shop, building, committed
):
    form = {
        "name": "newshop",
        "resource_group": "default",
        "linux_fx_version": "PYTHON|3.11",
        "database": "on",
        "client_type": "django",
    }
    r = committed(lambda: alice_client.post("/apps/new/", form))
    assert r.status_code == 302 and r["Location"] == "/apps/newshop/connector/", r.content
    assert pending.read("newshop", "postgres-flexible").status == "queued"


def test_a_create_rolled_back_leaves_no_queued_record(shop, building, committed):
    from django.db import transaction

    from apps.databases import connecting

    with pytest.raises(RuntimeError), transaction.atomic():
        connecting.connect(shop, "postgres-flexible")
        raise RuntimeError("the Create page's app was not made after all")
    assert pending.read("shop", "postgres-flexible") is None
    building.queued.assert_not_called()
