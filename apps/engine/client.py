"""The one module that imports `docker`. Everything else in Berth calls the
typed functions here and catches apps.engine.errors.*."""

from __future__ import annotations

import contextlib
import functools
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
    repository, _, version = tag.partition(":")
    with translated(f"Importing image {tag}"):
        image = client().images.import_image(
            src=tarball, repository=repository, tag=version or "latest", changes=changes
        )
    return getattr(image, "id", "") or tag


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
