"""The Log stream: page, server-sent events (engine patched with autospec),
markers on restart and takeover, resume by Last-Event-ID, masking, download."""

from __future__ import annotations

import asyncio
import threading
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient

from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.engine.client import ContainerState, LogLine
from apps.logs import services
from apps.webapps.models import AppSetting

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/apps/hello-flask/logstream/"
SECRET = "s3cr3t-database-password"


class FakeFollower:
    """Yields its lines, then blocks like `docker logs --follow` until closed
    (or ends at once with end=True, as when the container stops)."""

    def __init__(self, lines: list[LogLine], end: bool = False) -> None:
        self.lines, self.end = lines, end
        self.closed = threading.Event()

    def __iter__(self):
        yield from self.lines
        if not self.end:
            self.closed.wait(10)

    def close(self) -> None:
        self.closed.set()


def state(
    restart_count: int = 0, started_at: str = "2025-01-01T10:00:00.000000000Z", status="running"
):
    return ContainerState(
        name="berth-hello-flask-1",
        status=status,
        exit_code=0,
        oom_killed=False,
        restart_count=restart_count,
        started_at=started_at,
        finished_at="",
        error="",
        created="",
        labels={},
    )


def line(second: int, text: str, stream: str = "stdout") -> LogLine:
    return LogLine(f"2025-01-01T10:00:{second:02d}.000000001Z", stream, text)


@pytest.fixture
def serving(webapp):
    return Deployment.objects.create(
        app=webapp, status="success", active=True, container="berth-hello-flask-1"
    )


@pytest.fixture
def engine_mocks():
    with (
        mock.patch.object(engine, "container_logs_stream", autospec=True) as logs,
        mock.patch.object(engine, "container_state", autospec=True) as st,
        mock.patch.object(engine, "container_id", autospec=True) as cid,
    ):
        st.return_value = state()
        cid.return_value = "aaaaaaaaaaaa" + "0" * 52
        yield logs, st, cid


def read_events(path: str, user, count: int, headers: dict | None = None, timeout: float = 5):
    """The first `count` SSE messages (comments left out) from the endpoint."""

    async def go():
        client = AsyncClient()
        await client.aforce_login(user)
        response = await client.get(path, headers=headers or {})
        assert response.status_code == 200, response
        assert response["Content-Type"] == "text/event-stream"
        assert response["Cache-Control"] == "no-cache"
        messages: list[str] = []
        buffer = ""
        stream = response.streaming_content

        async def collect():
            nonlocal buffer
            async for chunk in stream:
                buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
                while "\n\n" in buffer:
                    message, buffer = buffer.split("\n\n", 1)
                    if not message.startswith(":"):
                        messages.append(message)
                if len(messages) >= count:
                    return

        try:
            await asyncio.wait_for(collect(), timeout)
        finally:
            await stream.aclose()
        return messages

    return async_to_sync(go)()


def data_of(message: str) -> str:
    return next(x[6:] for x in message.splitlines() if x.startswith("data: "))


def test_the_page_requires_login(client, webapp):
    assert client.get(URL).status_code == 302
    assert client.get(URL + "events").status_code == 302


def test_the_page_hides_other_users_apps(client, bob, webapp):
    client.force_login(bob)
    assert client.get(URL).status_code == 404
    assert client.get(URL + "download").status_code == 404


def test_the_events_hide_other_users_apps(bob, webapp):
    async def go():
        client = AsyncClient()
        await client.aforce_login(bob)
        return await client.get(URL + "events")

    assert async_to_sync(go)().status_code == 404


def test_the_page_has_the_stream_pause_and_download(alice_client, webapp):
    html = alice_client.get(URL).content.decode()
    assert f'data-events="{URL}events"' in html
    assert 'id="logstream-pause"' in html
    assert f'href="{URL}download?lines=1000"' in html
    assert "js/logstream.js" in html
    assert 'class="active" aria-current="page">Log stream' in html


def test_it_streams_history_then_lines_masked(alice, webapp, serving, engine_mocks):
    logs, _, _ = engine_mocks
    AppSetting.objects.create(app=webapp, name="DB_PASSWORD", value=SECRET)
    logs.return_value = FakeFollower(
        [
            line(1, "Booting worker with pid: 7"),
            line(2, f"connecting with {SECRET}", "stderr"),
            line(3, '127.0.0.1 - - "GET / HTTP/1.1" 200 12'),
        ]
    )
    messages = read_events(URL + "events", alice, 4)
    assert messages[0] == "retry: 2000"
    assert "id: aaaaaaaaaaaa:2025-01-01T10:00:01.000000001Z" in messages[1]
    assert "event: line" in messages[1]
    assert '"Booting worker with pid: 7"' in messages[1]
    assert SECRET not in messages[2] and "***" in messages[2]
    assert '"s": "stderr"' in messages[2]
    assert "GET / HTTP/1.1" in messages[3]
    logs.assert_called_once_with("berth-hello-flask-1", since="", tail=100)


def test_it_keeps_a_stderr_line_that_arrives_after_a_newer_stdout_line(
    alice, webapp, serving, engine_mocks
):
    # The engine copies stdout and stderr on their own: arrival order is not
    # always timestamp order, and no line may be dropped for it.
    logs, _, _ = engine_mocks
    logs.return_value = FakeFollower(
        [line(1, "started"), line(3, "request 1 served"), line(2, "token line", "stderr")]
    )
    messages = read_events(URL + "events", alice, 4)
    assert "token line" in messages[3]


def test_it_resumes_after_last_event_id_without_repeating(alice, webapp, serving, engine_mocks):
    logs, _, _ = engine_mocks
    logs.return_value = FakeFollower([line(2, "seen already"), line(3, "new line")])
    last = "aaaaaaaaaaaa:2025-01-01T10:00:02.000000001Z"
    messages = read_events(URL + "events", alice, 2, headers={"Last-Event-ID": last})
    assert "new line" in messages[1]
    assert "seen already" not in "".join(messages)
    since = logs.call_args.kwargs["since"]
    assert since == f"{services.to_ns('2025-01-01T10:00:02.000000001Z') // 10**9}.000000001"
    assert logs.call_args.kwargs["tail"] == "all"


def test_the_query_parameter_resumes_too(alice, webapp, serving, engine_mocks):
    logs, _, _ = engine_mocks
    logs.return_value = FakeFollower([line(5, "after")])
    messages = read_events(
        URL + "events?last_event_id=aaaaaaaaaaaa:2025-01-01T10:00:04.000000001Z", alice, 2
    )
    assert "after" in messages[1]
    assert logs.call_args.kwargs["since"]


def test_it_marks_a_container_restart(alice, webapp, serving, engine_mocks):
    logs, st, _ = engine_mocks
    logs.side_effect = [
        FakeFollower([line(1, "before the crash")], end=True),
        FakeFollower([line(9, "after the restart")]),
    ]
    st.side_effect = [
        state(),
        state(1, "2025-01-01T10:00:08.5Z"),
        state(1, "2025-01-01T10:00:08.5Z"),
    ]
    messages = read_events(URL + "events", alice, 4)
    assert "before the crash" in messages[1]
    assert "event: marker" in messages[2]
    assert "──── container restarted at 2025-01-01 10:00:08 UTC ────" in data_of(messages[2])
    assert "after the restart" in messages[3]
    # The second follow resumes from the last line sent.
    assert logs.call_args_list[1].kwargs["since"].endswith(".000000001")


def test_it_marks_a_new_release_taking_over(alice, webapp, serving, engine_mocks):
    logs, _, cid = engine_mocks
    logs.side_effect = [
        FakeFollower([line(1, "old release")], end=True),
        FakeFollower([line(0, "new release booting")]),
    ]
    cid.side_effect = ["a" * 64, "b" * 64, "b" * 64]
    messages = read_events(URL + "events", alice, 4)
    assert "new container berth-hello-flask-1 took over" in data_of(messages[2])
    # A new container's history is shown from its start, even if older than the last line.
    assert "new release booting" in messages[3]
    assert logs.call_args_list[1].kwargs == {"since": "", "tail": 100}


def test_it_says_when_no_container_serves(alice, webapp, engine_mocks):
    with mock.patch.object(engine, "find_containers", autospec=True, return_value=[]):
        messages = read_events(URL + "events", alice, 2)
    assert "event: info" in messages[1]
    assert "No running container for hello-flask yet" in messages[1]


def test_it_sends_keep_alive_comments_while_quiet(webapp, serving, engine_mocks):
    logs, _, _ = engine_mocks
    logs.return_value = FakeFollower([])

    async def go():
        gen = services.events(webapp, keepalive=0.05)
        got = [await gen.__anext__() for _ in range(3)]
        await gen.aclose()
        return got

    got = async_to_sync(go)()
    assert got[0].startswith("retry:")
    assert got[1] == ": keep-alive\n\n"
    assert logs.return_value.closed.wait(2), "closing the stream closes the engine's follow"


def test_the_download_is_plain_text_and_masked(alice_client, webapp, serving):
    AppSetting.objects.create(app=webapp, name="DB_PASSWORD", value=SECRET)
    with mock.patch.object(engine, "container_logs_lines", autospec=True) as lines:
        lines.return_value = [line(1, "hello"), line(2, f"pw={SECRET}", "stderr")]
        response = alice_client.get(URL + "download?lines=50")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="hello-flask-log-')
    body = response.content.decode()
    assert body == (
        "2025-01-01T10:00:01.000000001Z stdout hello\n2025-01-01T10:00:02.000000001Z stderr pw=***\n"
    )
    lines.assert_called_once_with("berth-hello-flask-1", tail=50)


def test_the_download_without_a_container_says_so(alice_client, webapp):
    with mock.patch.object(engine, "find_containers", autospec=True, return_value=[]):
        body = alice_client.get(URL + "download").content.decode()
    assert "No container serves hello-flask" in body


def test_timestamps_convert_both_ways():
    ns = services.to_ns("2025-01-01T10:00:02.5Z")
    assert ns % 10**9 == 500_000_000
    assert services.ns_to_since(ns).endswith(".500000000")
    assert services.parse_event_id("abc:2025-01-01T10:00:02.5Z") == ("abc", ns)
    assert services.parse_event_id("") == ("", 0)
