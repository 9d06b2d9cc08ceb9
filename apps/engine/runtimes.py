"""Runtime images, one per Python version: `berth/python:3.X`.

The catalog is what `az webapp list-runtimes --os linux` shows for Python,
with each version marked ready (the image is in the engine), buildable (Berth
can make it here: pull a slim base, or bootstrap from the Debian archive the
host's apt sources name) or unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.engine import build_image, builders, client
from apps.engine.errors import EngineError

# Callers take the versions and image names from here too.
from apps.engine.versions import END_OF_LIFE, PYTHON_VERSIONS, image_tag

__all__ = ["PYTHON_VERSIONS", "Runtime", "Status", "catalog", "image_tag", "runtime"]


class Status:
    READY = "ready"
    BUILDABLE = "can be built"
    BUILDING = "building"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Runtime:
    version: str
    status: str
    detail: str = ""
    # While building: the builder's progress (percent, message, log lines).
    progress: Any = field(default=None, compare=False)

    @property
    def config(self) -> str:
        return f"PYTHON|{self.version}"

    @property
    def image(self) -> str:
        return image_tag(self.version)

    @property
    def end_of_life(self) -> str:
        return END_OF_LIFE.get(self.version, "")


def catalog() -> list[Runtime]:
    """Every Python version, with whether its image is here or can be made."""
    return [runtime(version) for version in PYTHON_VERSIONS]


def runtime(version: str) -> Runtime:
    """One version's status: building, ready, can be built, or unavailable (and why)."""
    state = builders.read_state(version)
    if builders.is_building(version) or builders.is_queued(state):
        detail = state.message if state and state.message else "waiting for a worker"
        return Runtime(version, Status.BUILDING, detail, progress=state)
    try:
        ready = client.image_exists(image_tag(version))
        tools = ready and client.image_exists(build_image.build_tag(version))
    except EngineError as e:
        return Runtime(version, Status.UNAVAILABLE, e.message)
    if tools:
        return Runtime(version, Status.READY, builders.ready_detail(version))
    last = builders.last_failure(state)
    if ready:
        # Deploys build in the build image: without it the version is not usable yet.
        missing = f"its build image {build_image.build_tag(version)} is missing"
        return Runtime(version, Status.BUILDABLE, f"{last}{missing}; building makes it")
    how = builders.how_to_build(version)
    if how:
        return Runtime(version, Status.BUILDABLE, f"{last}{how}")
    why = builders.why_unavailable(version)
    # A build that failed for the reason we are about to give adds nothing.
    return Runtime(version, Status.UNAVAILABLE, why if why in last else f"{last}{why}")
