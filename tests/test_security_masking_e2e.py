"""Finding 6 against the real engine: an app prints, at start-up, a numeric
PIN, a Basic auth header, a secret inside a base64 blob, URL-encoded secrets
and a token split across two lines; none of it reaches the log archive on
disk or the Log stream a Reader reads, and the lines around them stay."""

from __future__ import annotations

import base64
import uuid
from urllib.parse import quote_plus

import pytest
from django.contrib.auth.models import User

from apps.access.models import Role, RoleAssignment
from tests.apiutil import ApiClient
from tests.security_helpers import table_fixture
from tests.test_secrets_masking_e2e import (  # noqa: F401
    _deploy_settings,
    _events_until,
    archive_until,
    deployed,
    zipdeploy,
)

# ruff: noqa: F811 (pytest fixtures imported from another test module)

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

table = table_fixture("Masking: numeric, base64, URL-encoded and split secrets (real engine)")

PIN = "84736251"
PASSWORD = "Zq8-7hQ2/Lm+4p X9v&ok"

APP_PY = """\
import base64
import os
import re
from urllib.parse import quote, quote_plus

from flask import Flask

pw, token = os.environ["DB_PASSWORD"], os.environ["API_TOKEN"]
lower = re.sub("%..", lambda m: m.group().lower(), quote(pw, safe=""))
basic = base64.b64encode(("deploy-bot:" + pw).encode()).decode()
blob = base64.urlsafe_b64encode(("x" + pw + ", and more").encode()).decode()
for text in (
    "PIN_CODE=" + os.environ["PIN_CODE"] + " on port 8000",
    "Authorization: Basic " + basic,
    "blob " + blob,
    "form password=" + quote_plus(pw) + " url " + lower,
    "token starts " + token[:8],
    token[8:] + " split-end",
):
    print(text, flush=True)
for i in range(8):  # the Log stream is read 4 messages at a time: more after the last
    print("after the split", i, flush=True)

app = Flask(__name__)


@app.route("/")
def index():
    return "ok"
"""


def test_an_app_printing_secret_forms_at_start_up_leaks_none(table, deployed):
    app, token = deployed
    api_token = f"tok_{uuid.uuid4().hex}"
    api = ApiClient(token)
    answer = api.patch(
        f"/api/apps/{app.name}/appsettings",
        [
            {"name": "PIN_CODE", "value": PIN},
            {"name": "DB_PASSWORD", "value": PASSWORD},
            {"name": "API_TOKEN", "value": api_token},
            {"name": "SCM_DO_BUILD_DURING_DEPLOYMENT", "value": "true"},
        ],
    )
    assert answer.status_code == 200, answer.content
    zipdeploy(api, app, {"app.py": APP_PY})

    # The password's own characters inside the app's base64 texts.
    basic = base64.b64encode(f"deploy-bot:{PASSWORD}".encode()).decode()
    blob = base64.urlsafe_b64encode(f"x{PASSWORD}, and more".encode()).decode()
    leaks = [PIN, PASSWORD, quote_plus(PASSWORD), api_token[:8], api_token[8:]]
    leaks += [basic[16:40], blob[3:28]]
    expected = [
        "PIN_CODE=*** on port 8000",
        "Authorization: Basic ZGVwbG95LWJvdDp***",
        "blob eF***ywgYW5kIG1vcmU=",
        "form password=*** url ***",
        "token starts ***",
        "*** split-end",
    ]

    with table.attack("6", "app prints PIN, Basic auth, base64, %-encoded, split: archive") as row:
        on_disk = archive_until(app, "split-end")
        assert [leak for leak in leaks if leak in on_disk] == []
        assert [text for text in expected if text not in on_disk] == [], on_disk
        row.outcome = "masked: none of the forms in app.log; the lines around them kept"

    with table.attack("6", "app prints PIN, Basic auth, base64, %-encoded, split: stream") as row:
        reader = User.objects.create_user(f"reader-{uuid.uuid4().hex[:6]}")
        RoleAssignment.objects.create(role=Role.READER, user=reader, app=app)
        path = f"/apps/{app.name}/logstream/events"
        streamed = "\n".join(_events_until(path, reader, "split-end"))
        assert [leak for leak in leaks if leak in streamed] == []
        assert "PIN_CODE=*** on port 8000" in streamed and "*** split-end" in streamed
        assert "token starts ***" in streamed, streamed
        row.outcome = "masked: none of the forms on a Reader's Log stream"
