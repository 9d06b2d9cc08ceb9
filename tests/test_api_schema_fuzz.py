"""Schemathesis fuzzes the API against its own OpenAPI document, in-process
through the WSGI app: whatever it sends, the answer is never a 5xx, and every
answer is one the document declares (status, content type and body schema).

Every operation in the document is fuzzed, zip deploy, redeploy, the log
stream and diagnostics included; what would leave the process is replaced
(see `no_engine`). Select it with `-k schema_fuzz` (it runs in the normal
pass too). Bounded: FUZZ_EXAMPLES examples per operation.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from unittest import mock

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.api.models import ApiToken
from apps.deployments.models import Deployment
from apps.webapps.models import WebApp

pytestmark = [pytest.mark.postgres]

FUZZ_APP = "fuzz-app"
FUZZ_EXAMPLES = int(os.getenv("BERTH_FUZZ_EXAMPLES", "25"))


@pytest.fixture
def api_schema(db, django_user_model):
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from portal.wsgi import application

    # As Django's test client does: the WSGI app must not close the test's
    # connection (and its open transaction) at the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/openapi.json", application)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


async def _three_lines(app, **kwargs) -> AsyncIterator[str]:
    for n in range(3):
        yield f"2026-01-01T00:00:0{n}Z stdout line {n}"


@pytest.fixture
def no_engine(settings, tmp_path):
    """The fuzz stays in the process: a zip deploy or redeploy is recorded and
    queued but not built, the log stream ends after three lines, and the
    diagnostics' evidence is collected without an engine."""
    with (
        mock.patch("apps.deployments.services.run_deployment", autospec=True) as run,
        mock.patch("apps.deployments.tasks.enqueue", autospec=True),
        mock.patch("apps.logs.services.text_lines", _three_lines),
        mock.patch("apps.engine.client.find_containers", return_value=[]),
        # A start of an app without a release serves no default site here.
        mock.patch("apps.lifecycle.defaultsite.serve", autospec=True, return_value=""),
        # Connections: no database service is started or changed.
        mock.patch("apps.databases.postgres.ensure_running", autospec=True),
        mock.patch("apps.databases.postgres.create_database", autospec=True),
        mock.patch("apps.databases.postgres.disable", autospec=True),
        mock.patch("apps.databases.postgres.drop", autospec=True),
        mock.patch("apps.databases.redis.ensure_running", return_value="berth-redis-fuzz-app"),
        mock.patch("apps.databases.redis.remove", autospec=True),
        mock.patch("apps.engine.client.find_networks", return_value=[]),
        mock.patch("apps.databases.postgres.dump", autospec=True, return_value=1),
        mock.patch("apps.databases.postgres.restore", autospec=True),
        mock.patch("apps.databases.postgres.retire", autospec=True, return_value=""),
    ):
        settings.DATA_DIR = tmp_path  # backups are written there
        run.side_effect = lambda pk: Deployment.objects.get(pk=pk)
        yield


@pytest.fixture
def fuzz_user(django_user_model):
    return django_user_model.objects.create_user("fuzz", "fuzz@example.org", "fuzz-password-1")


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the work tree
    suppress_health_check=list(HealthCheck),
)
def test_schema_fuzz_finds_no_server_errors_and_answers_as_documented(case, fuzz_user, no_engine):
    # A real app, a deployment of it and a fresh token for every example:
    # earlier examples may have deleted the app or revoked the token.
    app, _ = WebApp.objects.get_or_create(name=FUZZ_APP, defaults={"owner": fuzz_user})
    Deployment.objects.get_or_create(
        app=app, pk=1, defaults={"status": Deployment.Status.SUCCESS, "image": "fuzz:1"}
    )
    _, token = ApiToken.objects.create_for(fuzz_user, "fuzz")
    params = case.path_parameters or {}
    name = params.get("name")
    if isinstance(name, str) and len(name) % 4:
        # Mostly aim at the real app, so the fuzz reaches past the 404; keep
        # a quarter of the generated names to fuzz the path too.
        params["name"] = FUZZ_APP
    if isinstance(params.get("id"), int) and params["id"] % 2:
        params["id"] = 1  # half the ids name the real deployment
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
