"""Interactive shells and commands in a running app container (apps.console):
`docker exec -it` over the low-level API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from apps.engine import docker_api

# Interactive shells (apps.console): `docker exec -it` over the low-level API.


def find_app_container(app_name: str) -> str | None:
    """The app's running container with the highest io.berth.deployment, or
    None when none runs (stopped, crashed, never deployed)."""
    filters = {"label": [f"io.berth.app={app_name}"], "status": ["running"]}
    with docker_api.translated(f"Listing the containers of {app_name}"):
        found = docker_api.client().api.containers(filters=filters)

    def deployment(c: dict) -> int:
        try:
            return int((c.get("Labels") or {}).get("io.berth.deployment", "0"))
        except ValueError:
            return 0

    # Build containers carry the app's label too; only app containers serve.
    apps = [c for c in found if (c.get("Labels") or {}).get("io.berth.role", "app") == "app"]
    apps.sort(key=lambda c: (deployment(c), c.get("Created", 0)), reverse=True)
    for c in apps:
        if c.get("Names"):
            return c["Names"][0].lstrip("/")
    return None


class TtyStream:
    """The raw, bidirectional stream of an exec started with a TTY (no
    multiplexing headers: with a TTY, stdout and stderr are one stream).
    Blocking: call read() from a thread, never from an event loop."""

    def __init__(self, exec_id: str, sock: Any) -> None:
        self.exec_id = exec_id
        self._io = sock  # socket.SocketIO from the SDK; keeps the connection alive
        self._sock = getattr(sock, "_sock", sock)  # the SDK's documented way to write

    def read(self, size: int = 65536) -> bytes:
        """Up to `size` bytes; b"" when the shell has ended."""
        try:
            return self._sock.recv(size)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
        with contextlib.suppress(OSError):
            self._io.close()


def exec_tty(
    container: str, cmd: list[str], env: dict[str, str] | None = None, workdir: str = ""
) -> TtyStream:
    """Start `cmd` in a running container with a TTY and stdin attached."""
    kwargs: dict[str, Any] = {"tty": True, "stdin": True, "environment": env or {}}
    if workdir:
        kwargs["workdir"] = workdir
    with docker_api.translated(f"Opening a shell in {container}"):
        exec_id = docker_api.client().api.exec_create(container, cmd, **kwargs)["Id"]
        sock = docker_api.client().api.exec_start(exec_id, tty=True, socket=True)
    return TtyStream(exec_id, sock)


def exec_resize(exec_id: str, rows: int, cols: int) -> None:
    with docker_api.translated("Resizing the terminal"):
        docker_api.client().api.exec_resize(exec_id, height=rows, width=cols)


def exec_exit_code(exec_id: str) -> int | None:
    """An exec's exit code; None while it runs (or when the engine never saw it end)."""
    with docker_api.translated("Inspecting a shell"):
        attrs = docker_api.client().api.exec_inspect(exec_id)
    code = attrs.get("ExitCode")
    return None if attrs.get("Running") or code is None else int(code)


def exec_quick(container: str, cmd: list[str], *, user: str = "") -> tuple[int, str]:
    """Run a short command in a running container, no TTY; (exit code, output)."""
    with docker_api.translated(f"Running {cmd[0]} in {container}"):
        exec_id = docker_api.client().api.exec_create(container, cmd, user=user)["Id"]
        output = docker_api.client().api.exec_start(exec_id)
        code = docker_api.client().api.exec_inspect(exec_id).get("ExitCode")
    return int(code if code is not None else -1), output.decode("utf-8", "replace")


def exec_stream(
    container: str, cmd: list[str], *, env: dict[str, str], workdir: str = ""
) -> tuple[str, Iterator[bytes]]:
    """Start `cmd` in a running container, no TTY, as the container's user;
    (exec id, its stdout and stderr as they come). The environment is the
    exec's only: it is not in the container's config, so `docker commit`
    never carries it into an image. exec_exit_code() says how it ended."""
    with docker_api.translated(f"Running {cmd[0]} in {container}"):
        exec_id = docker_api.client().api.exec_create(
            container, cmd, environment=env, workdir=workdir
        )["Id"]
        stream = docker_api.client().api.exec_start(exec_id, stream=True)

    def chunks() -> Iterator[bytes]:
        with docker_api.translated(f"Reading the output of {cmd[0]} in {container}"):
            yield from stream

    return exec_id, chunks()
