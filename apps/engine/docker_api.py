"""The one module that imports `docker` (and its transport, requests and
urllib3): the engine connection, the translation of the SDK's errors into
apps.engine.errors, and the SDK's names the other engine modules use.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions
from django.conf import settings
from docker.utils.socket import STDERR

from apps.engine.errors import (
    ContainerMissing,
    EngineError,
    EngineUnavailable,
    ImageMissing,
    PortTaken,
)

# docker's names the other engine modules use, so that none imports docker.
DockerClient = docker.DockerClient
NotFound = docker.errors.NotFound
ImageNotFound = docker.errors.ImageNotFound
APIError = docker.errors.APIError
DockerException = docker.errors.DockerException
Mount = docker.types.Mount
IPAMPool = docker.types.IPAMPool
IPAMConfig = docker.types.IPAMConfig
RequestException = requests.exceptions.RequestException
EngineConnectionError = requests.exceptions.ConnectionError
StreamCut = urllib3.exceptions.HTTPError  # the engine ended a chunked body
STDERR_STREAM = STDERR  # the stream id of stderr in multiplexed logs

# Every object Berth creates carries this label, so it can find (and clean up)
# its own containers, images and networks without touching anyone else's.
LABEL = "io.berth.managed"


def _where() -> str:
    return settings.BERTH_DOCKER_HOST or "unix:///var/run/docker.sock"


@functools.cache
def _client() -> DockerClient:
    try:
        if settings.BERTH_DOCKER_HOST:
            return docker.DockerClient(base_url=settings.BERTH_DOCKER_HOST, timeout=120)
        return docker.from_env(timeout=120)
    except DockerException as e:
        raise EngineUnavailable(
            f"The Docker engine is not reachable at {_where()}: {e}. "
            "Start dockerd (scripts/ensure-docker.sh does it) or set DOCKER_HOST."
        ) from e


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn docker SDK and connection errors into Berth's engine errors."""
    try:
        yield
    except ImageNotFound as e:
        raise ImageMissing(f"{what}: image not found ({e.explanation or e})") from e
    except NotFound as e:
        raise ContainerMissing(f"{what}: not found ({e.explanation or e})") from e
    except APIError as e:
        said = str(e.explanation or e)
        # Docker says so only in English: read it here, at the edge, once.
        if "port is already allocated" in said or "address already in use" in said:
            raise PortTaken(f"{what}: the Docker engine said: {said}") from e
        raise EngineError(f"{what}: the Docker engine said: {said}") from e
    except (EngineConnectionError, DockerException) as e:
        _client.cache_clear()
        raise EngineUnavailable(
            f"{what}: the Docker engine is not reachable at {_where()} ({e}). "
            "Start dockerd (scripts/ensure-docker.sh does it) or set DOCKER_HOST."
        ) from e


def client() -> DockerClient:
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


def short_client(timeout: int) -> DockerClient:
    if settings.BERTH_DOCKER_HOST:
        return docker.DockerClient(base_url=settings.BERTH_DOCKER_HOST, timeout=timeout)
    return docker.from_env(timeout=timeout)
