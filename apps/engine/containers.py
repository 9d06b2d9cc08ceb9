"""Containers: run once, create, start, wait, stop, remove, commit, and
what they are (state, ports, environment, ids).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from apps.engine import docker_api
from apps.engine.errors import EngineError


def inspect_container(name: str) -> dict | None:
    """`docker inspect`; None when there is no such container."""
    with docker_api.translated(f"Inspecting container {name}"):
        try:
            return docker_api.client().api.inspect_container(name)
        except docker_api.NotFound:
            return None


def run_once(image: str, command: list[str], timeout: int = 120, **kwargs: Any) -> tuple[int, str]:
    """Run a command in a throwaway container; return (exit code, output)."""
    with docker_api.translated(f"Running {command[0]} in {image}"):
        container = docker_api.client().containers.create(
            image, command, labels={docker_api.LABEL: "true"}, **kwargs
        )
        try:
            container.start()
            result = container.wait(timeout=timeout)
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
            return int(result.get("StatusCode", -1)), output
        finally:
            with contextlib.suppress(docker_api.APIError):
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
    with docker_api.translated("Listing containers"):
        found = docker_api.client().api.containers(all=True, filters=filters)
    found.sort(key=lambda c: c.get("Created", 0), reverse=True)
    return [c["Names"][0].lstrip("/") for c in found if c.get("Names")]


def container_state(name: str) -> ContainerState:
    """`docker inspect`'s State: exit code, OOM kill, restart count."""
    with docker_api.translated(f"Inspecting container {name}"):
        attrs = docker_api.client().api.inspect_container(name)
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
    host_port: int | None = None,
    restart: bool = False,
    mounts: dict[str, tuple[str, str]] | None = None,
    cap_drop: list[str] | None = None,
    cap_add: list[str] | None = None,
    security_opt: list[str] | None = None,
    pids_limit: int = 0,
    user: str = "",
) -> str:
    """Create (not start) a container; returns its id. `publish_port` is
    published on 127.0.0.1 only, on `host_port` or else a random host port
    (which Docker changes when it restarts the container). `mounts` maps a host
    path or volume name to (container path, "ro"|"rw")."""
    kwargs: dict[str, Any] = {
        "name": name,
        "environment": environment,
        "labels": {docker_api.LABEL: "true", **labels},
        "detach": True,
    }
    # Only the options given: an unset one keeps Docker's default. The
    # hardening ones (apps.lifecycle.containers.hardening: never privileged, no
    # engine socket mounted) narrow what the process may do.
    optional = {
        "mem_limit": mem_limit,
        "nano_cpus": nano_cpus,
        "network": network,
        "cap_drop": cap_drop,
        "cap_add": cap_add,
        "security_opt": security_opt,
        "pids_limit": pids_limit,
        "user": user,
    }
    kwargs.update({key: value for key, value in optional.items() if value})
    if publish_port:
        kwargs["ports"] = {f"{publish_port}/tcp": ("127.0.0.1", host_port)}
    if restart:
        kwargs["restart_policy"] = {"Name": "unless-stopped"}
    if mounts:
        # HostConfig mounts, not `volumes=`: the SDK also writes those into
        # Config.Volumes, which `docker commit` would carry into an image.
        kwargs["mounts"] = [
            docker_api.Mount(
                target=dst,
                source=src,
                type="bind" if src.startswith("/") else "volume",
                read_only=mode == "ro",
            )
            for src, (dst, mode) in mounts.items()
        ]
    with docker_api.translated(f"Creating container {name}"):
        return docker_api.client().containers.create(image, command, **kwargs).id


def put_archive(container: str, path: str, data: Any) -> None:
    """Copy a tar stream (bytes or a file object) into a container at `path`."""
    with docker_api.translated(f"Copying files into {container}"):
        if not docker_api.client().api.put_archive(container, path, data):
            raise EngineError(f"Copying files into {container} failed")


def get_archive(container: str, path: str) -> BinaryIO:
    """A tar of `path` in a container (created or stopped will do), spooled
    to a temporary file (on disk past 64 MB), rewound for reading. Entries
    keep their owners and modes; the top one is named after `path`'s last part."""
    out = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)  # noqa: SIM115 (returned)
    try:
        with docker_api.translated(f"Copying {path} out of {container}"):
            chunks, _stat = docker_api.client().api.get_archive(container, path)
            for chunk in chunks:
                out.write(chunk)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def start_container(container: str) -> None:
    with docker_api.translated(f"Starting container {container}"):
        docker_api.client().api.start(container)


def follow_logs(container: str) -> Iterator[bytes]:
    """stdout and stderr as they come, until the container stops."""
    with docker_api.translated(f"Reading the logs of container {container}"):
        yield from docker_api.client().api.logs(
            container, stdout=True, stderr=True, stream=True, follow=True
        )


def wait_container(container: str, timeout: float | None = None) -> int:
    """Wait for a container to stop; its exit code."""
    with docker_api.translated(f"Waiting for container {container}"):
        result = docker_api.client().api.wait(container, timeout=timeout)
    return int(result.get("StatusCode", -1))


def kill_container(container: str) -> None:
    with (
        docker_api.translated(f"Stopping container {container}"),
        contextlib.suppress(docker_api.APIError),
    ):
        docker_api.client().api.kill(container)


def stop_container(container: str, timeout: int = 10) -> None:
    with (
        docker_api.translated(f"Stopping container {container}"),
        contextlib.suppress(docker_api.NotFound),
    ):
        docker_api.client().api.stop(container, timeout=timeout)


def remove_container(container: str) -> None:
    """Force-remove a container; a missing one is fine."""
    with (
        docker_api.translated(f"Removing container {container}"),
        contextlib.suppress(docker_api.NotFound),
    ):
        docker_api.client().api.remove_container(container, force=True)


def commit_container(container: str, tag: str, changes: list[str], labels: dict[str, str]) -> str:
    """`docker commit` with Dockerfile-style changes; returns the image id."""
    repository, _, version = tag.rpartition(":")
    changes = [
        *changes,
        *(f"LABEL {k}={json.dumps(v)}" for k, v in {docker_api.LABEL: "true", **labels}.items()),
    ]
    with docker_api.translated(f"Saving image {tag}"):
        answer = docker_api.client().api.commit(
            container, repository=repository, tag=version, changes="\n".join(changes)
        )
    return answer.get("Id", "")


def published_port(container: str, port: int) -> int | None:
    """The 127.0.0.1 host port a container's port is published on."""
    with docker_api.translated(f"Inspecting container {container}"):
        attrs = docker_api.client().api.inspect_container(container)
    bindings = ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).get(f"{port}/tcp") or []
    for binding in bindings:
        if binding.get("HostPort"):
            return int(binding["HostPort"])
    return None


def container_exists(container: str) -> bool:
    return inspect_container(container) is not None


def container_environment(container: str) -> dict[str, str]:
    """The environment the container was created with; {} when it is gone."""
    attrs = inspect_container(container) or {}
    pairs = (item.partition("=") for item in (attrs.get("Config") or {}).get("Env") or [])
    return {name: value for name, _, value in pairs}


def container_id(name: str) -> str:
    """The container's full id ("" when there is no such container)."""
    attrs = inspect_container(name)
    return attrs.get("Id", "") if attrs is not None else ""
