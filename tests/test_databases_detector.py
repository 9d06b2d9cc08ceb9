"""The database connections detector reads each connection's real state
(replaced here; the e2e test reads a real one) beside the app's log, and its
one-click fix repairs the connection."""

from __future__ import annotations

import dataclasses
from unittest import mock

import pytest

from apps.databases import connections
from apps.databases.models import ServiceConnection
from apps.diagnostics import registry
from apps.diagnostics import services as fixes
from apps.diagnostics.findings import Status
from apps.webapps.models import WebApp
from tests.diagnostics_helpers import HEALTHY_LOG, evidence, with_error

pytestmark = [pytest.mark.postgres]


def check(ev, *states):
    return registry.get("database_connection").check(dataclasses.replace(ev, connections=states))


@pytest.fixture
def hello(alice) -> ServiceConnection:
    app = WebApp.objects.create(name="hello", owner=alice)
    return ServiceConnection.objects.create(
        app=app,
        name="postgres_flexible",
        target="postgres-flexible",
        client_type="django",
        host="berth-postgres",
        database="hello",
        role="hello",
        password="pw",
    )


def state(**facts) -> connections.ConnectionState:
    base = {"name": "postgres_flexible", "target": "postgres-flexible", "service": "healthy"}
    base |= {"can_login": True, "database_exists": True, "sessions": 3, "max_sessions": 100}
    return connections.ConnectionState(**(base | facts))


def test_it_stays_quiet_without_connections_or_problems():
    assert check(evidence(), state()) is None
    assert check(evidence(container_log=with_error("FATAL: too many clients already"))) is None


@pytest.mark.django_db
def test_a_stopped_service_is_critical_and_offers_a_repair(hello):
    f = check(evidence(), state(service="stopped"))
    assert f.status == Status.CRITICAL and "service is stopped" in f.cause
    assert (f.action.kind, f.action.value) == ("repair_connection", "postgres_flexible")
    with mock.patch.object(connections, "repair", return_value="repaired") as repair:
        assert fixes.apply_action(hello.app, f.action) == "repaired"
    repair.assert_called_once_with(hello.app, "postgres_flexible")


def test_a_role_that_may_not_log_in_is_critical():
    f = check(evidence(), state(can_login=False, role="hello"))
    assert "may not log in" in f.cause and f.action is not None


def test_logged_errors_with_a_healthy_service_are_a_warning():
    log = HEALTHY_LOG + (
        "2025-05-01T12:00:02Z psycopg.OperationalError: FATAL:  password authentication "
        'failed for user "hello"\n'
        "2025-05-01T12:00:03Z FATAL:  sorry, too many clients already\n"
    )
    f = check(evidence(container_log=log), state())
    assert f.status == Status.WARNING
    assert "authentication failed" in f.cause and "too many connections" in f.cause
    assert f.action is None


def test_a_busy_service_is_reported():
    f = check(evidence(), state(sessions=95))
    assert "connection limit" in f.cause and "95 of 100 sessions" in "\n".join(
        i.text for i in f.evidence
    )
