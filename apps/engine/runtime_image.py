"""Making sure a version's runtime image is here and current: build it by
the chosen plan under the build lock, verify it, record the outcome.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from apps.engine import (
    build_image,
    buildplan,
    buildstate,
    client,
    debootstrap,
    pullbuild,
    recipe,
)
from apps.engine.errors import EngineError, RuntimeUnavailable
from apps.engine.versions import image_tag


def ready_detail(version: str) -> str:
    try:
        labels = client.image_labels(image_tag(version))
    except EngineError as e:
        return e.message
    source = labels.get(recipe.LABEL_SOURCE, "")
    detail = f"built by {source}" if source else "not built by Berth"
    if labels.get(recipe.LABEL_REVISION) != recipe.runtime_revision():
        detail += "; an older recipe: `manage.py runtime ensure` rebuilds it"
    return detail


def ensure_and_record(
    version: str, echo: buildstate.Progress | None = None
) -> tuple[RuntimeImage | None, str]:
    """ensure_runtime, keeping the progress file up to date; (result, error message)."""
    recorder = buildstate.Recorder(version, echo=echo)
    recorder(0, f"Making sure {image_tag(version)} exists")
    try:
        result = ensure_runtime(version, progress=recorder)
    except EngineError as e:
        recorder.finish(error=e.message)
        return None, e.message
    except Exception as e:
        recorder.finish(error=f"Unexpected error: {e!r}")
        raise
    recorder.finish()
    return result, ""


# ensure_runtime


@dataclass(frozen=True)
class RuntimeImage:
    version: str
    tag: str
    built: bool  # False: it was already there
    source: str = ""
    seconds: float = 0.0
    size: int = 0
    python: str = ""
    build_tag: str = ""
    build_seconds: float = 0.0  # making the build image, when it was made


def is_current(version: str) -> bool:
    tag = image_tag(version)
    if not client.image_exists(tag):
        return False
    return client.image_labels(tag).get(recipe.LABEL_REVISION) == recipe.runtime_revision()


def _quiet(percent: int, message: str) -> None:
    pass


def ensure_runtime(version: str, progress: buildstate.Progress | None = None) -> RuntimeImage:
    """Make sure `berth/python:<version>` and its build image
    `berth/python-build:<version>` exist with the current recipe."""
    progress = progress or _quiet
    tag = image_tag(version)
    if is_current(version) and build_image.is_current(version):
        progress(100, f"{tag} and {build_image.build_tag(version)} are ready")
        return RuntimeImage(version, tag, built=False, build_tag=build_image.build_tag(version))
    with buildstate.build_lock(version, progress):
        # Someone else may have built them while we waited for the lock.
        result = RuntimeImage(version, tag, built=False)
        if not is_current(version):

            def runtime_part(percent: int, message: str) -> None:
                progress(percent * RUNTIME_SHARE // 100, message)

            result = _build(version, runtime_part)
        if not build_image.is_current(version):
            started = time.monotonic()
            start = RUNTIME_SHARE if result.built else 5
            build_image.build(version, progress, start=start, end=100)
            seconds = time.monotonic() - started
            result = replace(result, built=True, build_seconds=seconds)
        built = build_image.build_tag(version)
        progress(100, f"{tag} and {built} are ready")
        return replace(result, build_tag=built)


# Of a build that makes both images, the runtime image's share of the percent.
RUNTIME_SHARE = 70


def _build(version: str, progress: buildstate.Progress) -> RuntimeImage:
    tag = image_tag(version)
    started = time.monotonic()
    progress(2, f"Choosing how to build {tag}")
    chosen = buildplan.plan(version)
    progress(4, f"Building {tag}: {chosen.describe()}")
    if chosen.source == "pull":
        try:
            pullbuild.build_by_pull(chosen, progress)
        except EngineError as e:
            if not chosen.fallback:
                raise
            progress(5, f"Pulling failed ({e.message}); bootstrapping from Debian instead")
            chosen = chosen.fallback
            debootstrap.build_by_debootstrap(chosen, progress)
    else:
        debootstrap.build_by_debootstrap(chosen, progress)
    python = verify(version, progress)
    seconds = time.monotonic() - started
    size = client.image_size(tag)
    progress(100, f"{tag} is ready: Python {python}, {size / 1e6:.0f} MB, built in {seconds:.0f} s")
    return RuntimeImage(version, tag, True, chosen.source, seconds, size, python)


VERIFY = "import sys, venv, gunicorn, flask; print('berth-python', sys.version.split()[0])"


def verify(version: str, progress: buildstate.Progress) -> str:
    """Run python in the new image: the modules an app needs import, the version matches."""
    tag = image_tag(version)
    progress(95, f"Verifying {tag}")
    code, output = client.run_once(
        tag, ["python3", "-c", VERIFY], timeout=60, network_disabled=True
    )
    # sys.version spans two lines on some builds (3.9: "...\n[GCC 10.2.1]"): look for ours.
    found = next(
        (line.split()[1] for line in output.splitlines() if line.startswith("berth-python ")), ""
    )
    if code == 0 and (found == version or found.startswith(version + ".")):
        return found
    why = (
        f"it has Python {found or '?'}" if code == 0 else f"python3 failed: {output.strip()[-300:]}"
    )
    client.remove_image(tag)
    raise RuntimeUnavailable(
        f"The image built for Python {version} is not usable ({why}); it was removed."
    )
