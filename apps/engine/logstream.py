"""Container logs: the last lines, and `docker logs --follow` with stdout
and stderr told apart (the Log stream, the log archive).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from apps.engine import docker_api
from apps.engine.errors import EngineUnavailable


def container_logs(name: str, tail: int = 500, timestamps: bool = True) -> list[str]:
    """The last `tail` lines of stdout and stderr; with timestamps, each line
    starts with the engine's RFC 3339 time and a space."""
    with docker_api.translated(f"Reading the logs of container {name}"):
        raw = docker_api.client().api.logs(
            name, stdout=True, stderr=True, tail=tail, timestamps=timestamps
        )
    return raw.decode("utf-8", "replace").splitlines()


# The Log stream (apps.logs).


@dataclass(frozen=True)
class LogLine:
    timestamp: (
        str  # the engine's RFC 3339 time with nanoseconds, e.g. 2024-05-01T10:00:00.123456789Z
    )
    stream: str  # "stdout" | "stderr"
    text: str


class LogFollower:
    """`docker logs --follow --timestamps` with stdout and stderr told apart.

    Iterate for LogLines; the iteration blocks on the engine's socket, so run
    it in a thread. close() (from any thread) ends it: the socket is shut and
    the blocked read returns. The iteration also ends when the container stops.
    """

    def __init__(
        self, name: str, *, since: str = "", tail: int | str = "all", follow: bool = True
    ) -> None:
        self.name = name
        params: dict[str, Any] = {
            "stdout": 1,
            "stderr": 1,
            "follow": 1 if follow else 0,
            "timestamps": 1,
            "tail": str(tail),
        }
        if since:
            # "seconds.nanoseconds", exactly as the engine's own timestamps go.
            params["since"] = since
        api = docker_api.client().api
        with docker_api.translated(f"Reading the logs of container {name}"):
            self._response = api._get(
                api._url("/containers/{0}/logs", name), params=params, stream=True
            )
            api._raise_for_status(self._response)
            self._socket = api._get_raw_response_socket(self._response)
            # A quiet app must not time the stream out (the client's 120 s).
            api._disable_socket_timeout(self._socket)
        self._closed = False

    def _frames(self) -> Iterator[tuple[int, bytes]]:
        # The engine's multiplexed format: an 8-byte header (stream, 0, 0, 0,
        # big-endian length), then the payload; read through the HTTP body.
        raw = self._response.raw
        while True:
            header = raw.read(8)
            if len(header) < 8:
                return
            size = int.from_bytes(header[4:8], "big")
            data = raw.read(size) if size else b""
            yield header[0], data

    def __iter__(self) -> Iterator[LogLine]:
        pending = {1: b"", 2: b""}
        try:
            for stream_id, data in self._frames():
                if self._closed:
                    return
                buf = pending.get(stream_id, b"") + data
                *lines, pending[stream_id] = buf.split(b"\n")
                for raw in lines:
                    yield _log_line(
                        raw, "stderr" if stream_id == docker_api.STDERR_STREAM else "stdout"
                    )
        except (
            OSError,
            ValueError,
            docker_api.RequestException,
            docker_api.StreamCut,  # the engine ended the chunked body: container removed
            AttributeError,
        ):
            # The socket was closed under us (close()) or the engine went away.
            if not self._closed:
                raise EngineUnavailable(
                    f"The log stream of {self.name} was cut by the Docker engine."
                ) from None
        for stream_id, rest in pending.items():
            if rest:
                yield _log_line(
                    rest, "stderr" if stream_id == docker_api.STDERR_STREAM else "stdout"
                )

    def close(self) -> None:
        self._closed = True
        # The connection dies here: keep urllib3 from offering it back to the
        # client's pool (which warns "pool is full" for each of many viewers).
        with contextlib.suppress(Exception):
            self._response.raw._pool = None
        with contextlib.suppress(Exception):
            # Over the unix socket the SDK hands back a SocketIO, which has no
            # shutdown(): reach the socket under it, or the blocked read (and
            # close() below, waiting on the same buffer) lasts until the next line.
            getattr(self._socket, "_sock", self._socket).shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self._response.close()


def _log_line(raw: bytes, stream: str) -> LogLine:
    text = raw.decode("utf-8", "replace").rstrip("\r")
    stamp, sep, rest = text.partition(" ")
    if sep and stamp[:4].isdigit() and "T" in stamp:
        return LogLine(stamp, stream, rest)
    return LogLine("", stream, text)


def container_logs_stream(
    name: str,
    since: str = "",
    tail: int | str = 100,
    timestamps: bool = True,
    *,
    follow: bool = True,
) -> LogFollower:
    """Follow a container's logs from `tail` lines back (or from `since`, the
    engine's "seconds.nanoseconds"): an iterable of LogLine with close().
    Always timestamped: the Log stream resumes by time. With follow=False
    the iteration ends at the last line written so far, even if the
    container still runs."""
    del timestamps  # always on; kept in the signature for callers that say so
    return LogFollower(name, since=since, tail=tail, follow=follow)


def container_logs_lines(name: str, tail: int = 1000) -> list[LogLine]:
    """The last `tail` lines, stdout and stderr told apart, oldest first."""
    api = docker_api.client().api
    with docker_api.translated(f"Reading the logs of container {name}"):
        out = api.logs(name, stdout=True, stderr=False, timestamps=True, tail=tail)
        err = api.logs(name, stdout=False, stderr=True, timestamps=True, tail=tail)
    lines = [_log_line(r, "stdout") for r in out.splitlines()]
    lines += [_log_line(r, "stderr") for r in err.splitlines()]
    # RFC 3339 with the same zone sorts as text, close enough for a download.
    lines.sort(key=lambda line: line.timestamp)
    return lines[-tail:]
