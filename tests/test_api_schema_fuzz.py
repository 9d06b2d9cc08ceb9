"""Schemathesis fuzzes the API against its own OpenAPI document, in-process
through the WSGI app: whatever it sends, the answer is never a 5xx.

Select it with `-k schema_fuzz` (it runs in the normal pass too). Bounded:
FUZZ_EXAMPLES examples per operation, about 30 s in all.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from apps.api.models import ApiToken
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


schema = (
    schemathesis.pytest.from_fixture("api_schema")
    # Zip deploy and redeploy start builds on the engine; apps.deployments tests them.
    # The log stream never ends (tests/test_logstream_api.py tests it).
    .exclude(path_regex=r"/(zipdeploy|redeploy|logstream)$")
)


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
def test_schema_fuzz_finds_no_server_errors(case, fuzz_user):
    # A real app and a fresh token for every example: earlier examples may
    # have deleted the app or revoked the token.
    WebApp.objects.get_or_create(name=FUZZ_APP, defaults={"owner": fuzz_user})
    _, token = ApiToken.objects.create_for(fuzz_user, "fuzz")
    name = (case.path_parameters or {}).get("name")
    if isinstance(name, str) and len(name) % 4:
        # Mostly aim at the real app, so the fuzz reaches past the 404; keep
        # a quarter of the generated names to fuzz the path too.
        case.path_parameters["name"] = FUZZ_APP
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error]
    )
