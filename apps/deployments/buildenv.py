"""A build's environment: the app settings as Oryx has them, pip's index
settings from the host's configuration, the app's own wheel cache volume
and the CA bundle the build trusts. Given to the build's process only,
never to a container's config."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from apps.webapps.environment import build_environment
from apps.webapps.models import WebApp

# Each app's builds keep their wheels in a volume of its own, labelled with the
# app (deleting the app removes it): nothing one app's build writes is ever
# read by another's (issue 12, finding 2).
PIP_CACHE_VOLUME = "berth-pip-cache"


PIP_CACHE_DIR = "/var/cache/berth-pip"


CA_PATH = "/etc/berth/ca-certificates.crt"


@functools.cache
def _pip_config() -> dict[str, str]:
    """pip's own reading of its configuration (every file pip reads, in its
    order, and its PIP_* variables), as `pip config list` prints it:
    `section.key='value'` a line. Read once a process (pip takes a third of
    a second to start)."""
    try:
        listed = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    found: dict[str, str] = {}
    for line in listed.splitlines():
        name, eq, value = line.partition("=")
        if eq:
            found[name.strip()] = value.strip().strip("'\"")
    return found


def _host_pip_config() -> dict[str, str]:
    """Index settings from the host's pip configuration that a container can
    use (http(s) URLs only: file:// indexes are paths on the host). A PIP_*
    variable wins over the files, as in pip; install's section over global."""
    config = _pip_config()
    found: dict[str, str] = {}
    for key, env in (
        ("index-url", "PIP_INDEX_URL"),
        ("extra-index-url", "PIP_EXTRA_INDEX_URL"),
        ("find-links", "PIP_FIND_LINKS"),
    ):
        value = os.getenv(env) or next(
            (config[f"{s}.{key}"] for s in ("install", "global") if f"{s}.{key}" in config), ""
        )
        urls = [u for u in value.split() if u.startswith(("http://", "https://"))]
        if urls:
            found[env] = " ".join(urls)
    return found


def pip_cache_volume(app: WebApp) -> str:
    return f"{PIP_CACHE_VOLUME}-{app.name}"


def build_env(app: WebApp) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """The build's environment (app settings, as Oryx has them, plus pip's;
    given to the build's process only, never to the container, whose config
    the release image keeps) and mounts (CA bundle, the app's pip cache)."""
    env = build_environment(app)
    env.update(_host_pip_config())
    if settings.BERTH_PIP_INDEX_URL:
        env["PIP_INDEX_URL"] = settings.BERTH_PIP_INDEX_URL
    if settings.BERTH_PIP_EXTRA_INDEX_URL:
        env["PIP_EXTRA_INDEX_URL"] = settings.BERTH_PIP_EXTRA_INDEX_URL
    env.update(
        PIP_CACHE_DIR=PIP_CACHE_DIR,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_PROGRESS_BAR="off",
        PIP_ROOT_USER_ACTION="ignore",
        PIP_NO_INPUT="1",
    )
    mounts = {pip_cache_volume(app): (PIP_CACHE_DIR, "rw")}
    ca = settings.BERTH_BUILD_CA_BUNDLE
    if ca and Path(ca).is_file():
        mounts[str(Path(ca).resolve())] = (CA_PATH, "ro")
        env.update(PIP_CERT=CA_PATH, REQUESTS_CA_BUNDLE=CA_PATH, SSL_CERT_FILE=CA_PATH)
    return env, mounts


def ca_bundle_warning() -> str:
    """Why the build (uid 1000) cannot read BERTH_BUILD_CA_BUNDLE, or ""."""
    ca = settings.BERTH_BUILD_CA_BUNDLE
    if not ca or not Path(ca).is_file() or Path(ca).resolve().stat().st_mode & 0o004:
        return ""
    return (
        f"WARNING: the CA bundle {ca} (BERTH_BUILD_CA_BUNDLE) is not readable by other "
        "users; the build runs as uid 1000 and cannot read it, so pip may fail behind an "
        "intercepting proxy: chmod a+r it."
    )
