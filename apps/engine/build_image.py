"""The build image `berth/python-build:<version>`: the runtime image plus
what Oryx's build image carries for packages that compile (a C compiler,
Python's headers, pkg-config, the development headers of PostgreSQL,
MySQL/MariaDB, libjpeg, zlib, libffi, OpenSSL, libxml2/libxslt) and
Debian's Node.js with npm for PRE_BUILD_COMMAND. Builds run in it; the
release image is the runtime image plus what the build left in
/home/site/wwwroot, so none of this reaches the app's container.

Made the way its runtime image was: `docker build` FROM the runtime image,
installing with the image's own apt sources (the host's Debian archive for
a bootstrapped image, the base image's for a pulled one).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from django.conf import settings

from apps.engine import buildstate, client, recipe
from apps.engine.errors import EngineError, RuntimeUnavailable
from apps.engine.versions import image_tag

# Every suite from bullseye on names them the same.
BUILD_PACKAGES = [
    "gcc",
    "g++",
    "make",
    "libc6-dev",
    "pkg-config",
    "libpq-dev",
    "default-libmysqlclient-dev",
    "libjpeg-dev",
    "zlib1g-dev",
    "libffi-dev",
    "libssl-dev",
    "libxml2-dev",
    "libxslt1-dev",
    "nodejs",
    "npm",
]
# Python's own headers: Debian's for Debian's python3; a pulled python:3.X
# image has its own in /usr/local/include already.
PYTHON_HEADERS = "python3-dev"
LABEL_BUILD_REVISION = "io.berth.build-revision"
LABEL_ROLE = "io.berth.role"

# Release files of a testing suite (forky) expire within days: an archive
# snapshot, or a machine whose clock runs ahead, makes `apt-get update`
# refuse them. debootstrap does not check it either; signatures still are.
DOCKERFILE = """\
FROM {base}
USER root
RUN apt-get -o Acquire::Check-Valid-Until=false update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {packages} \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \\
 && chmod 1777 /tmp
{labels}
"""
# What the new image must answer, or it is removed.
VERIFY = (
    "set -e; gcc --version | head -n 1; pkg-config --version; pg_config --version; "
    "mysql_config --version; pkg-config --modversion libxml-2.0 libxslt libjpeg zlib libffi openssl; "
    "python3 -c 'import sysconfig, os; "
    'h = sysconfig.get_paths()["include"]; '
    'assert os.path.exists(h + "/Python.h"), h; print("Python.h in", h)\'; '
    'echo "node $(node --version), npm $(npm --version)"'
)


def build_tag(version: str) -> str:
    """berth/python:3.11 -> berth/python-build:3.11"""
    return f"{settings.BERTH_RUNTIME_IMAGE_PREFIX}-build:{version}"


def packages(runtime_source: str) -> list[str]:
    """The recipe's packages, Python's headers for Debian's Python, then
    BERTH_BUILD_EXTRA_PACKAGES."""
    headers = [] if runtime_source == "pull" else [PYTHON_HEADERS]
    return [*BUILD_PACKAGES, *headers, *settings.BERTH_BUILD_EXTRA_PACKAGES]


def build_revision(runtime_source: str) -> str:
    """Changes when the runtime's recipe or the build packages change."""
    digest = hashlib.sha256()
    for part in (recipe.runtime_revision(), " ".join(packages(runtime_source)), DOCKERFILE):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def _runtime_source(version: str) -> str:
    return client.image_labels(image_tag(version)).get(recipe.LABEL_SOURCE, "")


def is_current(version: str) -> bool:
    """Built by the current recipe, on the runtime image that is there now
    (its layers come first in the build image's)."""
    tag = build_tag(version)
    built, runtime = client.image_facts(tag), client.image_facts(image_tag(version))
    if built is None or runtime is None:
        return False
    if built.layer_ids[: len(runtime.layer_ids)] != runtime.layer_ids:
        return False
    wanted = build_revision(runtime.labels.get(recipe.LABEL_SOURCE, ""))
    return built.labels.get(LABEL_BUILD_REVISION) == wanted


def dockerfile(version: str, runtime_source: str) -> str:
    labels = {
        client.LABEL: "true",
        recipe.LABEL_PYTHON: version,
        LABEL_ROLE: "build-image",
        LABEL_BUILD_REVISION: build_revision(runtime_source),
    }
    return DOCKERFILE.format(
        base=image_tag(version),
        packages=" ".join(packages(runtime_source)),
        labels="\n".join(f'LABEL {k}="{v}"' for k, v in labels.items()),
    )


def build(version: str, progress: buildstate.Progress, start: int = 0, end: int = 100) -> str:
    """docker build the build image on the (current) runtime image; returns
    what the verification printed. Percentages run from `start` to `end`."""
    tag = build_tag(version)
    source = _runtime_source(version)
    context = Path(
        tempfile.mkdtemp(prefix=f"build-image-{version}-", dir=buildstate.runtimes_dir())
    )
    try:
        (context / "Dockerfile").write_text(dockerfile(version, source))
        (context / "Dockerfile").chmod(0o644)
        progress(
            start,
            f"docker build {tag} FROM {image_tag(version)}: {len(packages(source))} "
            "packages for native builds and Node.js",
        )
        percent = float(start)
        span = max(end - start - 5, 1)
        for line in client.build_image(str(context), tag):
            # apt prints a line a package ("Unpacking ...", "Setting up ..."):
            # creep towards the end without a total.
            percent = min(percent + span / 3000, end - 5)
            progress(int(percent), line)
    finally:
        shutil.rmtree(context, ignore_errors=True)
    return verify(version, progress, end - 4)


def verify(version: str, progress: buildstate.Progress, percent: int) -> str:
    tag = build_tag(version)
    progress(percent, f"Verifying {tag}: compiler, headers, pkg-config, Node.js")
    try:
        code, output = client.run_once(
            tag, ["bash", "-c", VERIFY], timeout=60, network_disabled=True
        )
    except EngineError as e:
        code, output = 1, e.message
    if code != 0:
        client.remove_image(tag)
        raise RuntimeUnavailable(
            f"The build image {tag} is not usable ({output.strip()[-300:]}); it was removed."
        )
    return output.strip()
