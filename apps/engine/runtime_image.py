"""Making sure a version's runtime image is here and current: build it by
the chosen plan under the build lock, verify it, record the outcome.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from apps.engine import buildplan, buildstate, client, debootstrap, pullbuild, recipe
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


def is_current(version: str) -> bool:
    tag = image_tag(version)
    if not client.image_exists(tag):
        return False
    return client.image_labels(tag).get(recipe.LABEL_REVISION) == recipe.runtime_revision()


def _quiet(percent: int, message: str) -> None:
    pass


def ensure_runtime(version: str, progress: buildstate.Progress | None = None) -> RuntimeImage:
    """Make sure `berth/python:<version>` exists with the current recipe."""
    progress = progress or _quiet
    tag = image_tag(version)
    if is_current(version):
        progress(100, f"{tag} is ready")
        return RuntimeImage(version, tag, built=False)
    with buildstate.build_lock(version, progress):
        # Someone else may have built it while we waited for the lock.
        if is_current(version):
            progress(100, f"{tag} is ready")
            return RuntimeImage(version, tag, built=False)
        return _build(version, progress)


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
