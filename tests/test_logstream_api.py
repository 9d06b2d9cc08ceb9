"""GET /api/apps/<name>/logstream: the Log stream as plain text for
`berth webapp log tail`, Bearer token auth (engine patched with autospec)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient

from apps.logs import services
from apps.webapps.models import AppSetting
from tests.apiutil import alice_token, api, bob_api  # noqa: F401
from tests.test_logstream import SECRET, FakeFollower, engine_mocks, line, serving  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/api/apps/hello-flask/logstream"


def read_text(token: str, count: int, timeout: float = 5) -> list[str]:
    async def go():
        client = AsyncClient()
        response = await client.get(URL, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        got: list[str] = []
        stream = response.streaming_content

        async def collect():
            async for chunk in stream:
                got.extend((chunk.decode() if isinstance(chunk, bytes) else chunk).splitlines())
                if len(got) >= count:
                    return

        try:
            await asyncio.wait_for(collect(), timeout)
        finally:
            await stream.aclose()
        return got

    return async_to_sync(go)()


def test_it_streams_plain_masked_lines(alice_token, webapp, serving, engine_mocks):  # noqa: F811
    logs, _, _ = engine_mocks
    AppSetting.objects.create(app=webapp, name="DB_PASSWORD", value=SECRET)
    logs.return_value = FakeFollower([line(1, "booting"), line(2, f"pw={SECRET}", "stderr")])
    got = read_text(alice_token, 2)
    assert got == [
        "2025-01-01T10:00:01.000000001Z stdout booting",
        "2025-01-01T10:00:02.000000001Z stderr pw=***",
    ]


def test_it_wants_a_token(client, webapp):
    response = client.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="berth"'
    assert response.json()["error"]["code"] == "Unauthorized"


def test_it_hides_other_users_apps(bob_api, webapp):  # noqa: F811
    response = bob_api.get(URL)
    assert response.status_code == 404
    assert "berth webapp list" in response.json()["error"]["message"]


def test_it_rejects_post(api, webapp):  # noqa: F811
    assert api.post(URL).status_code == 405


def test_sse_messages_become_plain_lines():
    assert services.plain(services.marker("container restarted")) == (
        "──── container restarted ────\n"
    )
    assert services.plain(": keep-alive\n\n") is None
    assert services.plain("retry: 2000\n\n") is None


def test_it_is_in_the_openapi_document(api):  # noqa: F811
    paths = api.get("/api/openapi.json").json()["paths"]
    assert "text/plain" in paths["/api/apps/{name}/logstream"]["get"]["responses"]["200"]["content"]
