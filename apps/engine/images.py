"""Images: inspect, import, pull, build, remove, find, and whether a
registry answers.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from apps.engine import docker_api
from apps.engine.errors import EngineError


def _inspect_image(tag: str, what: str) -> dict | None:
    """`docker image inspect`; None when there is no such image."""
    with docker_api.translated(what):
        try:
            return docker_api.client().api.inspect_image(tag)
        except docker_api.ImageNotFound:
            return None


def image_exists(tag: str) -> bool:
    return _inspect_image(tag, f"Looking up image {tag}") is not None


def image_labels(tag: str) -> dict[str, str]:
    with docker_api.translated(f"Inspecting image {tag}"):
        return docker_api.client().images.get(tag).labels or {}


def import_image(tarball: Any, tag: str, changes: list[str]) -> str:
    """`docker import` a root file system tarball (a file object or path)."""
    repository, _, version = tag.rpartition(":")
    if not repository or "/" in version:  # no tag, or a registry port: "host:5000/name"
        repository, version = tag, "latest"
    with docker_api.translated(f"Importing image {tag}"):
        # The SDK's import lives on the low-level API (ImageCollection has none).
        answer = docker_api.client().api.import_image(
            src=tarball, repository=repository, tag=version, changes=changes
        )
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        return json.loads(answer).get("status", "") or tag
    return tag


def pull_image(reference: str) -> None:
    with docker_api.translated(f"Pulling {reference}"):
        docker_api.client().images.pull(reference)


def build_image(
    context_dir: str, tag: str, buildargs: dict[str, str] | None = None
) -> Iterator[str]:
    """`docker build` a folder holding a Dockerfile; yields the build's output lines."""
    with docker_api.translated(f"Building image {tag}"):
        stream = docker_api.client().api.build(
            path=context_dir,
            tag=tag,
            buildargs=buildargs or {},
            rm=True,
            decode=True,
            labels={docker_api.LABEL: "true"},
        )
        for chunk in stream:
            if "error" in chunk:
                raise EngineError(f"Building image {tag} failed: {chunk['error'].strip()}")
            if text := chunk.get("stream", "").rstrip():
                yield text


def remove_image(tag: str) -> None:
    with (
        docker_api.translated(f"Removing image {tag}"),
        contextlib.suppress(docker_api.ImageNotFound),
    ):
        docker_api.client().images.remove(tag, force=True)


def registry_has(reference: str, timeout: int = 10) -> bool:
    """Does a registry answer for `reference`? Asks for its manifest, pulls nothing."""
    try:
        with contextlib.closing(docker_api.short_client(timeout)) as short:
            short.api.inspect_distribution(reference)
    except (docker_api.RequestException, docker_api.DockerException):
        return False
    return True


def image_size(tag: str) -> int:
    """An image's size in bytes, as `docker images` shows it."""
    with docker_api.translated(f"Inspecting image {tag}"):
        return int(docker_api.client().images.get(tag).attrs.get("Size", 0))


# Release reuse and the benchmark (apps.deployments.buildrun, scripts/bench.py).


@dataclass(frozen=True)
class ImageFacts:
    id: str
    layers: int  # file system layers (overlay2 stacks them; keep it well under 128)
    labels: dict[str, str]
    env_names: tuple[str, ...] = ()  # of its config's Env (names only: values may be secrets)
    layer_ids: tuple[str, ...] = ()  # an image built FROM another starts with its layers


def image_facts(tag: str) -> ImageFacts | None:
    """An image's id, layer count, labels and environment variable names;
    None when there is no such image."""
    attrs = _inspect_image(tag, f"Inspecting image {tag}")
    if attrs is None:
        return None
    config = attrs.get("Config") or {}
    layer_ids = tuple((attrs.get("RootFS") or {}).get("Layers") or [])
    return ImageFacts(
        id=attrs.get("Id", ""),
        layers=len(layer_ids),
        layer_ids=layer_ids,
        labels=config.get("Labels") or {},
        env_names=tuple(item.partition("=")[0] for item in config.get("Env") or []),
    )


# Deleting an app (apps.deployments.teardown): everything it left behind.


def find_images(labels: dict[str, str] | None = None, repository: str = "") -> list[str]:
    """Ids of the images carrying all these labels, and of those tagged in
    `repository` (e.g. berth/app-shop, any tag), newest first: an image
    committed on top of another is newer than it, so removing them in this
    order never meets a parent that still has children."""
    created: dict[str, int] = {}
    with docker_api.translated("Listing images"):
        if labels:
            filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
            for image in docker_api.client().api.images(filters=filters):
                created[image["Id"]] = image.get("Created", 0)
        if repository:
            for image in docker_api.client().api.images(name=repository):
                created[image["Id"]] = image.get("Created", 0)
    return sorted(created, key=lambda image_id: created[image_id], reverse=True)
