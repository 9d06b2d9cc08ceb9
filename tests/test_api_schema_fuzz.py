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
    from portal.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/openapi.json", application)


schema = (
    schemathesis.pytest.from_fixture("api_schema")
    # Zip deploy and redeploy start builds on the engine; apps.deployments tests them.
    .exclude(path_regex=r"/(zipdeploy|redeploy)$")
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
    if "name" in (case.path_parameters or {}):
        # Aim at the real app, so the fuzz reaches past the 404.
        case.path_parameters["name"] = FUZZ_APP
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error]
    )
