"""What goes into a runtime image: the packages, the files under
runtime_files/, its environment and labels, and the recipe's revision (an
image built by an older recipe is rebuilt).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings

from apps.engine import client

# Berth's processes make files private (umask 077, portal.settings); a
# runtime image's files are for the app's user in the container, so what
# builds one uses the usual 022.
IMAGE_UMASK = 0o022

RUNTIME_FILES = Path(__file__).resolve().parent / "runtime_files"

# The shared libraries the build image's development headers build against,
# so what pip compiled there (psycopg2, mysqlclient, lxml, Pillow) loads in
# the app's container. Every suite from bullseye on names them the same
# (libxslt1.1 brings libxml2, whatever the suite calls it).
RUNTIME_LIBRARIES = ["libpq5", "libmariadb3", "libjpeg62-turbo", "libxslt1.1", "zlib1g"]

# What goes into a debootstrapped image. Every suite from bullseye on names
# them the same (bullseye's `gunicorn` ships /usr/bin/gunicorn for python3).
DEBIAN_PACKAGES = [
    "python3",
    "python3-venv",
    "python3-pip",
    "python-is-python3",
    "gunicorn",
    "python3-flask",
    "ca-certificates",
    *RUNTIME_LIBRARIES,
]
PIP_PACKAGES = ["gunicorn", "flask"]

LABEL_PYTHON = "io.berth.python"
LABEL_SOURCE = "io.berth.source"
LABEL_REVISION = "io.berth.runtime-revision"

WORKDIR = "/home/site/wwwroot"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The default site, started the way Oryx starts an app: gunicorn from the
# image, bound to $PORT on all interfaces.
DEFAULT_CMD = (
    "exec gunicorn --bind=0.0.0.0:${PORT:-8000} --timeout 600 "
    "--access-logfile '-' --error-logfile '-' --chdir /opt/defaultsite app:app"
)
# Bump when the recipe changes in a way runtime_files don't show.
RECIPE = "3"


# The recipe's revision


def debian_packages() -> list[str]:
    """The image's Debian packages: the recipe's, then BERTH_RUNTIME_EXTRA_PACKAGES."""
    return [*DEBIAN_PACKAGES, *settings.BERTH_RUNTIME_EXTRA_PACKAGES]


def extra_libraries() -> list[str]:
    """What a pulled image installs with apt: the libraries, and the extra packages."""
    return [*RUNTIME_LIBRARIES, *settings.BERTH_RUNTIME_EXTRA_PACKAGES]


def runtime_revision() -> str:
    """A short hash of everything that goes into an image, so changes rebuild."""
    digest = hashlib.sha256()
    for part in (RECIPE, " ".join(debian_packages()), " ".join(PIP_PACKAGES), DEFAULT_CMD):
        digest.update(part.encode() + b"\0")
    for path in sorted(p for p in RUNTIME_FILES.rglob("*") if p.is_file()):
        if "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(RUNTIME_FILES)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def image_env(version: str) -> dict[str, str]:
    return {
        "PORT": "8000",
        "HOME": "/home",
        "PATH": PATH,
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "BERTH_PYTHON_VERSION": version,
    }


def image_labels(version: str, source: str) -> dict[str, str]:
    return {
        client.LABEL: "true",
        LABEL_PYTHON: version,
        LABEL_SOURCE: source,
        LABEL_REVISION: runtime_revision(),
    }
