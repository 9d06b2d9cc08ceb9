"""How a runtime image can be made here: pull a slim base when a registry
answers, else debootstrap the Debian suite that carries the version from
the archive the host's apt sources name, else why not.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from apps.engine import buildstate, client
from apps.engine.errors import EngineError, RuntimeUnavailable
from apps.engine.versions import PYTHON_VERSIONS

# How long a registry probe's answer is trusted, and how long it may take.
PROBE_TTL = 600
PROBE_TIMEOUT = 10


# The host's apt sources


@dataclass(frozen=True)
class AptSource:
    uri: str
    suites: tuple[str, ...]


def parse_deb822_sources(text: str) -> list[AptSource]:
    """`Types/URIs/Suites` stanzas (sources.list.d/*.sources), binary entries only."""
    result = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "deb").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        suites = tuple(fields.get("suites", "").split())
        result.extend(AptSource(uri, suites) for uri in fields.get("uris", "").split())
    return result


def parse_one_line_sources(text: str) -> list[AptSource]:
    """`deb [options] uri suite components...` lines (sources.list)."""
    result = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        line = re.sub(r"\[[^\]]*\]", " ", line)
        parts = line.split()
        if len(parts) >= 3:
            result.append(AptSource(parts[1], (parts[2],)))
    return result


def _is_plain_suite(suite: str) -> bool:
    # bookworm, stable, sid: not bookworm-updates, bookworm-security, ...
    return bool(suite) and "-" not in suite and "/" not in suite


def find_debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str | None:
    """The Debian archive the host's apt sources name (not its security archive)."""
    sources: list[AptSource] = []
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            sources += parse_deb822_sources(path.read_text())
    for path in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            sources += parse_one_line_sources(path.read_text())
    for source in sources:
        if source.uri.startswith(("http://", "https://")) and any(
            _is_plain_suite(s) for s in source.suites
        ):
            return source.uri.rstrip("/")
    return None


def suite_for(version: str) -> str | None:
    return PYTHON_VERSIONS.get(version)


def debootstrap_script(
    suite: str, scripts: Path = Path("/usr/share/debootstrap/scripts")
) -> str | None:
    """debootstrap's script for a suite; newer suites than it knows use sid's."""
    if (scripts / suite).exists():
        return None
    return str(scripts / "sid")


def debootstrap_missing() -> str:
    """Why this host cannot debootstrap, or "" when it can."""
    if not shutil.which("debootstrap"):
        return "debootstrap is not installed (apt-get install debootstrap)"
    if os.geteuid() != 0:
        return "debootstrap needs root: run the worker or `manage.py runtime ensure` as root"
    return ""


# Registry reachability, probed once in a while


def _probe_file() -> Path:
    return buildstate.runtimes_dir() / "registry-probe.json"


def registry_reachable(reference: str, *, fresh: bool = False, cached_only: bool = False) -> bool:
    """Can the engine reach the registry holding `reference`? Cached for PROBE_TTL.
    `cached_only` answers from the cache alone (False when unknown): for pages."""
    path = _probe_file()
    cache: dict[str, dict] = {}
    with contextlib.suppress(OSError, ValueError):
        cache = json.loads(path.read_text())
    entry = cache.get(reference)
    if entry and not fresh and time.time() - entry.get("at", 0) < PROBE_TTL:
        return bool(entry.get("reachable"))
    if cached_only:
        return False
    reachable = client.registry_has(reference, timeout=PROBE_TIMEOUT)
    cache[reference] = {"at": time.time(), "reachable": reachable}
    buildstate.write_json(path, cache)
    return reachable


def base_image(version: str) -> str:
    return settings.BERTH_RUNTIME_BASE_IMAGE.format(version=version)


# Choosing a recipe


@dataclass(frozen=True)
class Plan:
    version: str
    source: str  # "pull" | "debootstrap"
    base_image: str = ""
    suite: str = ""
    fallback: Plan | None = None

    def describe(self) -> str:
        if self.source == "pull":
            text = f"pull {self.base_image} and add gunicorn and Flask"
        else:
            text = f"debootstrap Debian {self.suite} from the host's apt archive"
        if self.fallback:
            text += f", else {self.fallback.describe()}"
        return text


def plan(version: str, *, probe: bool = True) -> Plan:
    """How `version` would be built here; RuntimeUnavailable says why it can't."""
    if version not in PYTHON_VERSIONS:
        known = ", ".join(PYTHON_VERSIONS)
        raise RuntimeUnavailable(f"Python {version} is not offered; choose one of {known}.")
    mode = settings.BERTH_RUNTIME_SOURCE
    if mode not in ("auto", "pull", "debootstrap"):
        raise RuntimeUnavailable(
            f"BERTH_RUNTIME_SOURCE is {mode!r}; set it to auto, pull or debootstrap."
        )
    pull = Plan(version, "pull", base_image=base_image(version))
    if mode == "pull":
        return pull

    suite = suite_for(version)
    boot: Plan | None = None
    why_not_boot = ""
    if not suite:
        why_not_boot = "no Debian suite carries it"
    elif missing := debootstrap_missing():
        why_not_boot = missing
    elif not find_debian_mirror():
        why_not_boot = "no Debian archive found in the host's apt sources (/etc/apt)"
    else:
        boot = Plan(version, "debootstrap", suite=suite)

    if mode == "debootstrap":
        if boot:
            return boot
        raise RuntimeUnavailable(f"{version}: {why_not_boot} (BERTH_RUNTIME_SOURCE=debootstrap).")

    # auto: pull when the registry answers, else bootstrap.
    if boot:
        if registry_reachable(pull.base_image, cached_only=not probe):
            return Plan(version, "pull", base_image=pull.base_image, fallback=boot)
        return boot
    if registry_reachable(pull.base_image):
        return pull
    raise RuntimeUnavailable(f"{version}: {why_not_boot} and no registry is reachable.")


def how_to_build(version: str) -> str:
    """A line saying how the image would be made here, or "" when it can't."""
    try:
        return plan(version, probe=False).describe()
    except (RuntimeUnavailable, EngineError):
        return ""


def why_unavailable(version: str) -> str:
    try:
        plan(version, probe=False)
    except EngineError as e:
        return e.message
    return ""
