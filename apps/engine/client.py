"""The one module that imports `docker`. Everything else in Berth calls the
typed functions here and catches apps.engine.errors.*."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests.exceptions
from django.conf import settings

from apps.engine.errors import ContainerMissing, EngineError, EngineUnavailable, ImageMissing

# Every object Berth creates carries this label, so it can find (and clean up)
# its own containers, images and networks without touching anyone else's.
LABEL = "io.berth.managed"


def _where() -> str:
    return settings.BERTH_DOCKER_HOST or "unix:///var/run/docker.sock"


@functools.cache
def _client() -> docker.DockerClient:
    try:
        if settings.BERTH_DOCKER_HOST:
            return docker.DockerClient(base_url=settings.BERTH_DOCKER_HOST, timeout=120)
        return docker.from_env(timeout=120)
    except docker.errors.DockerException as e:
        raise EngineUnavailable(
            f"The Docker engine is not reachable at {_where()}: {e}. "
            "Start dockerd (scripts/ensure-docker.sh does it) or set DOCKER_HOST."
        ) from e


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn docker SDK and connection errors into Berth's engine errors."""
    try:
        yield
    except docker.errors.ImageNotFound as e:
        raise ImageMissing(f"{what}: image not found ({e.explanation or e})") from e
    except docker.errors.NotFound as e:
        raise ContainerMissing(f"{what}: not found ({e.explanation or e})") from e
    except docker.errors.APIError as e:
        raise EngineError(f"{what}: the Docker engine said: {e.explanation or e}") from e
    except (requests.exceptions.ConnectionError, docker.errors.DockerException) as e:
        _client.cache_clear()
        raise EngineUnavailable(
            f"{what}: the Docker engine is not reachable at {_where()} ({e}). "
            "Start dockerd (scripts/ensure-docker.sh does it) or set DOCKER_HOST."
        ) from e


def client() -> docker.DockerClient:
    return _client()


@dataclass(frozen=True)
class EngineStatus:
    reachable: bool
    message: str
    version: str = ""
    storage_driver: str = ""
    containers_running: int = 0
    images: int = 0


def engine_status() -> EngineStatus:
    """Engine health, for the Overview and the health endpoint. Never raises."""
    try:
        with translated("Checking the Docker engine"):
            info = client().info()
            version = client().version().get("Version", "")
    except EngineError as e:
        return EngineStatus(reachable=False, message=e.message)
    return EngineStatus(
        reachable=True,
        message=f"Docker {version} is up",
        version=version,
        storage_driver=info.get("Driver", ""),
        containers_running=info.get("ContainersRunning", 0),
        images=info.get("Images", 0),
    )


# Images


def image_exists(tag: str) -> bool:
    with translated(f"Looking up image {tag}"):
        try:
            client().images.get(tag)
        except docker.errors.ImageNotFound:
            return False
    return True


def image_labels(tag: str) -> dict[str, str]:
    with translated(f"Inspecting image {tag}"):
        return client().images.get(tag).labels or {}


def import_image(tarball: Any, tag: str, changes: list[str]) -> str:
    """`docker import` a root file system tarball (a file object or path)."""
    repository, _, version = tag.rpartition(":")
    if not repository or "/" in version:  # no tag, or a registry port: "host:5000/name"
        repository, version = tag, "latest"
    with translated(f"Importing image {tag}"):
        # The SDK's import lives on the low-level API (ImageCollection has none).
        answer = client().api.import_image(
            src=tarball, repository=repository, tag=version, changes=changes
        )
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        return json.loads(answer).get("status", "") or tag
    return tag


def pull_image(reference: str) -> None:
    with translated(f"Pulling {reference}"):
        client().images.pull(reference)


def build_image(
    context_dir: str, tag: str, buildargs: dict[str, str] | None = None
) -> Iterator[str]:
    """`docker build` a folder holding a Dockerfile; yields the build's output lines."""
    with translated(f"Building image {tag}"):
        stream = client().api.build(
            path=context_dir,
            tag=tag,
            buildargs=buildargs or {},
            rm=True,
            decode=True,
            labels={LABEL: "true"},
        )
        for chunk in stream:
            if "error" in chunk:
                raise EngineError(f"Building image {tag} failed: {chunk['error'].strip()}")
            if text := chunk.get("stream", "").rstrip():
                yield text


def remove_image(tag: str) -> None:
    with translated(f"Removing image {tag}"), contextlib.suppress(docker.errors.ImageNotFound):
        client().images.remove(tag, force=True)


# Containers


def run_once(image: str, command: list[str], timeout: int = 120, **kwargs: Any) -> tuple[int, str]:
    """Run a command in a throwaway container; return (exit code, output)."""
    with translated(f"Running {command[0]} in {image}"):
        container = client().containers.create(image, command, labels={LABEL: "true"}, **kwargs)
        try:
            container.start()
            result = container.wait(timeout=timeout)
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
            return int(result.get("StatusCode", -1)), output
        finally:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)


# Container inspection, for "Diagnose and solve problems" (apps.diagnostics).


@dataclass(frozen=True)
class ContainerState:
    name: str
    status: str  # created | running | restarting | exited | dead | paused
    exit_code: int | None
    oom_killed: bool
    restart_count: int
    started_at: str  # RFC 3339 as the engine gives it; "" when never
    finished_at: str
    error: str
    created: str
    labels: dict[str, str]


def find_containers(labels: dict[str, str]) -> list[str]:
    """Names of the containers (running or not) carrying all these labels, newest first."""
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    with translated("Listing containers"):
        found = client().api.containers(all=True, filters=filters)
    found.sort(key=lambda c: c.get("Created", 0), reverse=True)
    return [c["Names"][0].lstrip("/") for c in found if c.get("Names")]


def container_state(name: str) -> ContainerState:
    """`docker inspect`'s State: exit code, OOM kill, restart count."""
    with translated(f"Inspecting container {name}"):
        attrs = client().api.inspect_container(name)
    state = attrs.get("State", {})

    def when(value: str | None) -> str:
        # The engine says 0001-01-01T00:00:00Z for "never".
        return "" if not value or value.startswith("0001-") else value

    return ContainerState(
        name=attrs.get("Name", name).lstrip("/"),
        status=state.get("Status", ""),
        exit_code=state.get("ExitCode"),
        oom_killed=bool(state.get("OOMKilled")),
        restart_count=int(attrs.get("RestartCount") or 0),
        started_at=when(state.get("StartedAt")),
        finished_at=when(state.get("FinishedAt")),
        error=state.get("Error", "") or "",
        created=when(attrs.get("Created")),
        labels=(attrs.get("Config") or {}).get("Labels") or {},
    )


def container_logs(name: str, tail: int = 500, timestamps: bool = True) -> list[str]:
    """The last `tail` lines of stdout and stderr; with timestamps, each line
    starts with the engine's RFC 3339 time and a space."""
    with translated(f"Reading the logs of container {name}"):
        raw = client().api.logs(name, stdout=True, stderr=True, tail=tail, timestamps=timestamps)
    return raw.decode("utf-8", "replace").splitlines()


def registry_has(reference: str, timeout: int = 10) -> bool:
    """Does a registry answer for `reference`? Asks for its manifest, pulls nothing."""
    try:
        with contextlib.closing(_short_client(timeout)) as short:
            short.api.inspect_distribution(reference)
    except (requests.exceptions.RequestException, docker.errors.DockerException):
        return False
    return True


def _short_client(timeout: int) -> docker.DockerClient:
    if settings.BERTH_DOCKER_HOST:
        return docker.DockerClient(base_url=settings.BERTH_DOCKER_HOST, timeout=timeout)
    return docker.from_env(timeout=timeout)


def image_size(tag: str) -> int:
    """An image's size in bytes, as `docker images` shows it."""
    with translated(f"Inspecting image {tag}"):
        return int(client().images.get(tag).attrs.get("Size", 0))


# Build containers, releases and app containers (apps.deployments).


def ensure_network(name: str) -> None:
    """A user-defined bridge network (apps reach each other by container name)."""
    with translated(f"Creating network {name}"):
        if not client().networks.list(names=[name]):
            client().networks.create(name, driver="bridge", labels={LABEL: "true"})


def ensure_volume(name: str) -> None:
    with translated(f"Creating volume {name}"):
        try:
            client().volumes.get(name)
        except docker.errors.NotFound:
            client().volumes.create(name, labels={LABEL: "true"})


def create_container(
    image: str,
    command: list[str],
    *,
    name: str,
    environment: dict[str, str],
    labels: dict[str, str],
    mem_limit: str = "",
    nano_cpus: int = 0,
    network: str = "",
    publish_port: int | None = None,
    restart: bool = False,
    mounts: dict[str, tuple[str, str]] | None = None,
) -> str:
    """Create (not start) a container; returns its id. `publish_port` is
    published on 127.0.0.1 only, on a random host port. `mounts` maps a host
    path or volume name to (container path, "ro"|"rw")."""
    kwargs: dict[str, Any] = {
        "name": name,
        "environment": environment,
        "labels": {LABEL: "true", **labels},
        "detach": True,
    }
    if mem_limit:
        kwargs["mem_limit"] = mem_limit
    if nano_cpus:
        kwargs["nano_cpus"] = nano_cpus
    if network:
        kwargs["network"] = network
    if publish_port:
        kwargs["ports"] = {f"{publish_port}/tcp": ("127.0.0.1", None)}
    if restart:
        kwargs["restart_policy"] = {"Name": "unless-stopped"}
    if mounts:
        # HostConfig mounts, not `volumes=`: the SDK also writes those into
        # Config.Volumes, which `docker commit` would carry into an image.
        kwargs["mounts"] = [
            docker.types.Mount(
                target=dst,
                source=src,
                type="bind" if src.startswith("/") else "volume",
                read_only=mode == "ro",
            )
            for src, (dst, mode) in mounts.items()
        ]
    with translated(f"Creating container {name}"):
        return client().containers.create(image, command, **kwargs).id


def put_archive(container: str, path: str, data: Any) -> None:
    """Copy a tar stream (bytes or a file object) into a container at `path`."""
    with translated(f"Copying files into {container}"):
        if not client().api.put_archive(container, path, data):
            raise EngineError(f"Copying files into {container} failed")


def start_container(container: str) -> None:
    with translated(f"Starting container {container}"):
        client().api.start(container)


def follow_logs(container: str) -> Iterator[bytes]:
    """stdout and stderr as they come, until the container stops."""
    with translated(f"Reading the logs of container {container}"):
        yield from client().api.logs(container, stdout=True, stderr=True, stream=True, follow=True)


def wait_container(container: str, timeout: float | None = None) -> int:
    """Wait for a container to stop; its exit code."""
    with translated(f"Waiting for container {container}"):
        result = client().api.wait(container, timeout=timeout)
    return int(result.get("StatusCode", -1))


def kill_container(container: str) -> None:
    with translated(f"Stopping container {container}"), contextlib.suppress(docker.errors.APIError):
        client().api.kill(container)


def stop_container(container: str, timeout: int = 10) -> None:
    with translated(f"Stopping container {container}"), contextlib.suppress(docker.errors.NotFound):
        client().api.stop(container, timeout=timeout)


def remove_container(container: str) -> None:
    """Force-remove a container; a missing one is fine."""
    with translated(f"Removing container {container}"), contextlib.suppress(docker.errors.NotFound):
        client().api.remove_container(container, force=True)


def commit_container(container: str, tag: str, changes: list[str], labels: dict[str, str]) -> str:
    """`docker commit` with Dockerfile-style changes; returns the image id."""
    repository, _, version = tag.rpartition(":")
    changes = [
        *changes,
        *(f"LABEL {k}={json.dumps(v)}" for k, v in {LABEL: "true", **labels}.items()),
    ]
    with translated(f"Saving image {tag}"):
        answer = client().api.commit(
            container, repository=repository, tag=version, changes="\n".join(changes)
        )
    return answer.get("Id", "")


def published_port(container: str, port: int) -> int | None:
    """The 127.0.0.1 host port a container's port is published on."""
    with translated(f"Inspecting container {container}"):
        attrs = client().api.inspect_container(container)
    bindings = ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).get(f"{port}/tcp") or []
    for binding in bindings:
        if binding.get("HostPort"):
            return int(binding["HostPort"])
    return None


def container_exists(container: str) -> bool:
    with translated(f"Inspecting container {container}"):
        try:
            client().api.inspect_container(container)
        except docker.errors.NotFound:
            return False
    return True


# Interactive shells (apps.console): `docker exec -it` over the low-level API.


def find_app_container(app_name: str) -> str | None:
    """The app's running container with the highest io.berth.deployment, or
    None when none runs (stopped, crashed, never deployed)."""
    filters = {"label": [f"io.berth.app={app_name}"], "status": ["running"]}
    with translated(f"Listing the containers of {app_name}"):
        found = client().api.containers(filters=filters)

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
    with translated(f"Opening a shell in {container}"):
        exec_id = client().api.exec_create(container, cmd, **kwargs)["Id"]
        sock = client().api.exec_start(exec_id, tty=True, socket=True)
    return TtyStream(exec_id, sock)


def exec_resize(exec_id: str, rows: int, cols: int) -> None:
    with translated("Resizing the terminal"):
        client().api.exec_resize(exec_id, height=rows, width=cols)


def exec_running(exec_id: str) -> bool:
    with translated("Inspecting a shell"):
        return bool(client().api.exec_inspect(exec_id).get("Running"))


def exec_quick(container: str, cmd: list[str], timeout: int = 10) -> tuple[int, str]:
    """Run a short command in a running container, no TTY; (exit code, output)."""
    with translated(f"Running {cmd[0]} in {container}"):
        exec_id = client().api.exec_create(container, cmd)["Id"]
        output = client().api.exec_start(exec_id)
        code = client().api.exec_inspect(exec_id).get("ExitCode")
    return int(code if code is not None else -1), output.decode("utf-8", "replace")
