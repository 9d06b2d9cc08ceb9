"""How a runtime image `berth/python:3.X` gets made.

Two recipes, the same result:
- pull: when a registry is reachable, `docker build` a small Dockerfile on a
  `python:3.X-slim` style base that pip-installs gunicorn and Flask.
- debootstrap: with no registry (this project's build machines), bootstrap the
  Debian suite that carries that Python from the archive the host's own apt
  sources name, then `docker import` the folder.

Either way the image holds python + venv + pip, gunicorn (in the image, not in
the app's virtual environment, as Oryx does), Flask and the built-in default
site in /opt/defaultsite, and is labelled with the revision of the recipe so a
changed recipe rebuilds. `ensure_runtime()` does it once, under a file lock.

One module a job: recipe (what an image holds), buildplan (how it can be
made here), buildstate (progress, queue mark, lock), debootstrap and
pullbuild (the two recipes), runtime_image (ensure_runtime, verify). This
module re-exports their public names so callers keep
`from apps.engine import builders` (other apps import it this way).
"""

from __future__ import annotations

from apps.engine.buildplan import (
    PROBE_TIMEOUT,
    AptSource,
    Plan,
    base_image,
    debootstrap_missing,
    debootstrap_script,
    find_debian_mirror,
    how_to_build,
    parse_deb822_sources,
    parse_one_line_sources,
    plan,
    registry_reachable,
    suite_for,
    why_unavailable,
)
from apps.engine.buildstate import (
    BuildState,
    Progress,
    build_lock,
    is_building,
    is_queued,
    last_failure,
    mark_queued,
    read_state,
    runtimes_dir,
    write_state,
)
from apps.engine.debootstrap import (
    build_by_debootstrap,
    import_changes,
)
from apps.engine.pullbuild import (
    build_args,
    build_by_pull,
    dockerfile,
)
from apps.engine.recipe import (
    LABEL_PYTHON,
    LABEL_REVISION,
    LABEL_SOURCE,
    RUNTIME_FILES,
    image_env,
    image_labels,
    runtime_revision,
)
from apps.engine.runtime_image import (
    RuntimeImage,
    ensure_and_record,
    ensure_runtime,
    is_current,
    ready_detail,
    verify,
)

__all__ = [
    "PROBE_TIMEOUT",
    "AptSource",
    "BuildState",
    "LABEL_PYTHON",
    "LABEL_REVISION",
    "LABEL_SOURCE",
    "Plan",
    "Progress",
    "RUNTIME_FILES",
    "RuntimeImage",
    "base_image",
    "build_args",
    "build_by_debootstrap",
    "build_by_pull",
    "build_lock",
    "debootstrap_missing",
    "debootstrap_script",
    "dockerfile",
    "ensure_and_record",
    "ensure_runtime",
    "find_debian_mirror",
    "how_to_build",
    "image_env",
    "image_labels",
    "import_changes",
    "is_building",
    "is_current",
    "is_queued",
    "last_failure",
    "mark_queued",
    "parse_deb822_sources",
    "parse_one_line_sources",
    "plan",
    "read_state",
    "ready_detail",
    "registry_reachable",
    "runtime_revision",
    "runtimes_dir",
    "suite_for",
    "verify",
    "why_unavailable",
    "write_state",
]
