"""Secrets masked everywhere: the masking helpers (encodings, a secret split
across two chunks of a stream), the API's redacted values, error pages with
DEBUG off and the technical page's filter with DEBUG on."""

from __future__ import annotations

import base64
import io
import json
import sys
from unittest import mock
from urllib.parse import quote, quote_plus

import pytest

from apps.engine import client as engine
from apps.logs.reporting import SecretsFilter
from apps.webapps.environment import mask, secret_values
from apps.webapps.models import AppSetting, ConnectionString
from tests.apiutil import alice_token, api  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

SECRET = 'S3cr3t/with+odd chars&="quoted"'


@pytest.fixture
def secrets(webapp) -> list[str]:
    AppSetting.objects.create(app=webapp, name="API_KEY", value=SECRET)
    return secret_values(webapp)


@pytest.mark.parametrize(
    "encoded",
    [
        SECRET,
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
        base64.b64encode(SECRET.encode()).decode().rstrip("="),
    ],
    ids=["plain", "url", "url-plus", "json", "base64"],
)
def test_it_masks_common_encodings(secrets, encoded):
    assert mask(f"before {encoded} after", secrets) == "before *** after"


def test_the_publishing_password_and_connection_strings_are_masked(webapp):
    ConnectionString.objects.create(app=webapp, name="db", value="postgres://u:pw-1234@db/x")
    found = secret_values(webapp)
    assert "postgres://u:pw-1234@db/x" in found
    assert webapp.publishing_password in found


def test_flags_and_numbers_are_not_masked(webapp):
    AppSetting.objects.create(app=webapp, name="DEBUG", value="true")
    AppSetting.objects.create(app=webapp, name="WORKERS", value="4")
    assert mask("DEBUG true with 4 workers", secret_values(webapp)) == ("DEBUG true with 4 workers")


def _frame(stream: int, data: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data


def test_a_secret_split_across_two_chunks_is_masked(secrets):
    """The engine's frames cut a line anywhere: the follower joins them into
    lines before anything masks them."""
    line = f"2025-01-01T10:00:01.000000001Z connecting with {SECRET}\n".encode()
    cut = line.index(SECRET.encode()) + 4
    follower = object.__new__(engine.LogFollower)
    follower.name, follower._closed = "c", False
    follower._response = mock.Mock(raw=io.BytesIO(_frame(1, line[:cut]) + _frame(1, line[cut:])))
    got = [mask(x.text, secrets) for x in follower]
    assert got == ["connecting with ***"]


def test_the_api_lists_values_null_unless_asked(api, webapp, secrets):  # noqa: F811
    listed = api.get(f"/api/apps/{webapp.name}/appsettings").json()
    assert listed == [{"name": "API_KEY", "slotSetting": False, "value": None}]
    assert SECRET not in api.get(f"/api/apps/{webapp.name}").content.decode()
    shown = api.get(f"/api/apps/{webapp.name}/appsettings?showValues=true").json()
    assert shown[0]["value"] == SECRET


def test_a_500_page_shows_no_values_with_debug_off(client, alice, settings, secrets, webapp):
    settings.DEBUG = False
    client.raise_request_exception = False
    client.force_login(alice)
    with mock.patch(
        "apps.logs.services.recent_text", autospec=True, side_effect=RuntimeError(SECRET)
    ):
        response = client.get(f"/apps/{webapp.name}/logstream/download")
    assert response.status_code == 500
    assert SECRET not in response.content.decode()


def test_the_debug_filter_hides_values_in_frames_and_posts(rf, secrets):
    settings_value = SECRET  # a local variable holding a secret  # noqa: F841
    harmless = "nothing to hide"  # noqa: F841
    frame = sys._getframe()
    request = rf.post("/x", {"value": SECRET, "name": "API_KEY"})
    f = SecretsFilter()
    variables = dict(f.get_traceback_frame_variables(request, frame))
    assert variables["settings_value"] == f.cleansed_substitute
    assert variables["harmless"] == "nothing to hide"
    posted = f.get_post_parameters(request)
    assert posted["value"] == f.cleansed_substitute and posted["name"] == "API_KEY"


def test_the_technical_500_page_hides_values(rf, settings, webapp):
    from django.views.debug import technical_500_response

    # Nothing HTML would escape; built here so the page's source excerpt
    # of this very test does not show it.
    plain = "Plain" + "S3cr3tValue42"
    AppSetting.objects.create(app=webapp, name="TOKEN", value=plain)
    settings.DEBUG = True
    token = plain  # noqa: F841
    try:
        raise ValueError("boom")
    except ValueError:
        response = technical_500_response(rf.get("/x"), *sys.exc_info())
    page = response.content.decode()
    assert "boom" in page and "token" in page
    assert plain not in page
