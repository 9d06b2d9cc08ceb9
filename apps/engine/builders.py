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
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from django.conf import settings

from apps.engine import client
from apps.engine.errors import EngineError, RuntimeUnavailable
from apps.engine.versions import PYTHON_VERSIONS, image_tag

Progress = Callable[[int, str], None]

# Berth's processes make files private (umask 077, portal.settings); a
# runtime image's files are for the app's user in the container, so what
# builds one uses the usual 022.
IMAGE_UMASK = 0o022

RUNTIME_FILES = Path(__file__).resolve().parent / "runtime_files"

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
RECIPE = "2"

# How long a registry probe's answer is trusted, and how long it may take.
PROBE_TTL = 600
PROBE_TIMEOUT = 10
LOG_LINES = 20


# Where things live


def runtimes_dir() -> Path:
    path = Path(settings.DATA_DIR) / "runtimes"
    path.mkdir(parents=True, exist_ok=True)
    return path


def lock_path(version: str) -> Path:
    return runtimes_dir() / f"{version}.lock"


def progress_path(version: str) -> Path:
    return runtimes_dir() / f"{version}.progress.json"


# The recipe's revision


def runtime_revision() -> str:
    """A short hash of everything that goes into an image, so changes rebuild."""
    digest = hashlib.sha256()
    for part in (RECIPE, " ".join(DEBIAN_PACKAGES), " ".join(PIP_PACKAGES), DEFAULT_CMD):
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
    return runtimes_dir() / "registry-probe.json"


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
    _write_json(path, cache)
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


# Progress, as a small JSON file the page and the CLI read


@dataclass
class BuildState:
    version: str
    status: str = "queued"  # queued | running | done | failed
    percent: int = 0
    message: str = ""
    error: str = ""
    log: list[str] = field(default_factory=list)
    updated: float = 0.0


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def read_state(version: str) -> BuildState | None:
    try:
        data = json.loads(progress_path(version).read_text())
    except (OSError, ValueError):
        return None
    known = BuildState.__dataclass_fields__
    return BuildState(**{k: v for k, v in data.items() if k in known})


def write_state(state: BuildState) -> None:
    state.updated = time.time()
    _write_json(progress_path(state.version), state.__dict__)


class Recorder:
    """A progress callback that keeps the state file up to date."""

    def __init__(self, version: str, echo: Progress | None = None) -> None:
        self.state = BuildState(version, status="running")
        self.lines: deque[str] = deque(maxlen=LOG_LINES)
        self.echo = echo
        self._last_write = 0.0

    def __call__(self, percent: int, message: str) -> None:
        self.state.percent = max(self.state.percent, percent)
        self.state.message = message
        self.lines.append(message)
        self.state.log = list(self.lines)
        if self.echo:
            self.echo(percent, message)
        # debootstrap talks a lot; a write a few times a second is plenty.
        if time.monotonic() - self._last_write > 0.3:
            self._last_write = time.monotonic()
            write_state(self.state)

    def finish(self, error: str = "") -> None:
        self.state.status = "failed" if error else "done"
        self.state.error = error
        if not error:
            self.state.percent = 100
        write_state(self.state)


# How long a queued build may wait for a worker before the page stops saying "building".
QUEUE_PATIENCE = 15 * 60


def is_queued(state: BuildState | None) -> bool:
    return bool(state and state.status == "queued" and time.time() - state.updated < QUEUE_PATIENCE)


def mark_queued(version: str) -> None:
    """Say a build is on its way, before a worker picks it up."""
    write_state(BuildState(version, status="queued", message="Queued, waiting for a worker"))


def last_failure(state: BuildState | None) -> str:
    """ "Last build failed: ...; " for the catalog, or "" when there is nothing to say."""
    if not state:
        return ""
    if state.status == "failed":
        return f"Last build failed: {state.error}; "
    if state.status == "running":
        # The state says running but nobody holds the lock: the builder died.
        return "The last build stopped before finishing; "
    return ""


def ready_detail(version: str) -> str:
    try:
        labels = client.image_labels(image_tag(version))
    except EngineError as e:
        return e.message
    source = labels.get(LABEL_SOURCE, "")
    detail = f"built by {source}" if source else "not built by Berth"
    if labels.get(LABEL_REVISION) != runtime_revision():
        detail += "; an older recipe: `manage.py runtime ensure` rebuilds it"
    return detail


def ensure_and_record(
    version: str, echo: Progress | None = None
) -> tuple[RuntimeImage | None, str]:
    """ensure_runtime, keeping the progress file up to date; (result, error message)."""
    recorder = Recorder(version, echo=echo)
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


# The lock


def is_building(version: str) -> bool:
    """True while some process holds the build lock for `version`."""
    path = lock_path(version)
    if not path.exists():
        return False
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


@contextlib.contextmanager
def build_lock(version: str, progress: Progress) -> Iterator[None]:
    """One build of a version at a time across processes (the worker, the CLI)."""
    with open(lock_path(version), "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(1, f"Another process is building Python {version}; waiting for it")
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


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
    return client.image_labels(tag).get(LABEL_REVISION) == runtime_revision()


def _quiet(percent: int, message: str) -> None:
    pass


def ensure_runtime(version: str, progress: Progress | None = None) -> RuntimeImage:
    """Make sure `berth/python:<version>` exists with the current recipe."""
    progress = progress or _quiet
    tag = image_tag(version)
    if is_current(version):
        progress(100, f"{tag} is ready")
        return RuntimeImage(version, tag, built=False)
    with build_lock(version, progress):
        # Someone else may have built it while we waited for the lock.
        if is_current(version):
            progress(100, f"{tag} is ready")
            return RuntimeImage(version, tag, built=False)
        return _build(version, progress)


def _build(version: str, progress: Progress) -> RuntimeImage:
    tag = image_tag(version)
    started = time.monotonic()
    progress(2, f"Choosing how to build {tag}")
    chosen = plan(version)
    progress(4, f"Building {tag}: {chosen.describe()}")
    if chosen.source == "pull":
        try:
            build_by_pull(chosen, progress)
        except EngineError as e:
            if not chosen.fallback:
                raise
            progress(5, f"Pulling failed ({e.message}); bootstrapping from Debian instead")
            chosen = chosen.fallback
            build_by_debootstrap(chosen, progress)
    else:
        build_by_debootstrap(chosen, progress)
    python = verify(version, progress)
    seconds = time.monotonic() - started
    size = client.image_size(tag)
    progress(100, f"{tag} is ready: Python {python}, {size / 1e6:.0f} MB, built in {seconds:.0f} s")
    return RuntimeImage(version, tag, True, chosen.source, seconds, size, python)


VERIFY = "import sys, venv, gunicorn, flask; print('berth-python', sys.version.split()[0])"


def verify(version: str, progress: Progress) -> str:
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


# Recipe: debootstrap


class DebootstrapStages:
    """debootstrap's output mapped onto 10..75 %: each stage has a floor, and the
    one-line-per-package stages creep towards the next floor (no total is printed)."""

    # (line prefix after "I: ", floor, ceiling, step per line)
    STAGES = [
        ("Retrieving InRelease", 10, 10, 0),
        ("Retrieving Packages", 12, 12, 0),
        ("Resolving dependencies", 15, 15, 0),
        ("Checking component", 16, 16, 0),
        ("Retrieving ", 17, 38, 0.1),
        ("Validating ", 17, 38, 0.1),
        ("Extracting ", 40, 44, 0.1),
        ("Installing core", 45, 45, 0),
        ("Unpacking required", 46, 46, 0),
        ("Configuring required", 50, 50, 0),
        ("Unpacking the base", 55, 55, 0),
        ("Unpacking ", 46, 72, 0.1),
        ("Configuring ", 50, 74, 0.1),
        ("Base system installed", 75, 75, 0),
    ]

    def __init__(self) -> None:
        self.percent = 10.0

    def __call__(self, line: str, current: int) -> int:
        text = line.removeprefix("I: ")
        for prefix, floor, ceiling, step in self.STAGES:
            if text.startswith(prefix):
                self.percent = min(max(self.percent, floor) + step, max(ceiling, self.percent))
                break
        return max(current, int(self.percent))


def build_by_debootstrap(chosen: Plan, progress: Progress) -> None:
    if missing := debootstrap_missing():
        raise RuntimeUnavailable(f"Cannot build Python {chosen.version} here: {missing}.")
    progress(6, "Resolving the Debian archive from the host's apt sources")
    mirror = find_debian_mirror()
    if not mirror:
        raise RuntimeUnavailable(
            "No Debian archive in the host's apt sources (/etc/apt/sources.list.d/*.sources "
            "or /etc/apt/sources.list); add one, or set BERTH_RUNTIME_SOURCE=pull."
        )
    tag = image_tag(chosen.version)
    # A build killed half-way leaves its folder behind; we hold the version's lock.
    for stale in runtimes_dir().glob(f"build-{chosen.version}-*"):
        _remove_tree(stale)
    workdir = Path(tempfile.mkdtemp(prefix=f"build-{chosen.version}-", dir=runtimes_dir()))
    rootfs = workdir / "rootfs"
    tarball = workdir / "rootfs.tar"
    try:
        command = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(DEBIAN_PACKAGES)}",
            chosen.suite,
            str(rootfs),
            mirror,
        ]
        if script := debootstrap_script(chosen.suite):
            command.append(script)
        progress(8, f"debootstrap {chosen.suite} (Python {chosen.version})")
        _stream(command, progress, 10, DebootstrapStages())

        progress(76, "Adding the default site and cleaning apt caches")
        _finish_rootfs(rootfs)

        progress(80, "Packing the root file system")
        subprocess.run(
            ["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(tarball), "."],
            check=True,
            capture_output=True,
            umask=IMAGE_UMASK,
        )
        _remove_tree(rootfs)
        progress(85, f"Importing {tarball.stat().st_size / 1e6:.0f} MB into the engine as {tag}")
        labels = image_labels(chosen.version, "debootstrap")
        client.import_image(str(tarball), tag, import_changes(chosen.version, labels))
    except subprocess.CalledProcessError as e:
        detail = (e.stderr or b"").decode(errors="replace").strip()[-500:]
        raise RuntimeUnavailable(
            f"Building Python {chosen.version} failed: {' '.join(map(str, e.cmd[:2]))} "
            f"exited with {e.returncode}. {detail}"
        ) from e
    finally:
        _remove_tree(workdir)


def _remove_tree(path: Path) -> None:
    """rmtree, after unmounting what a killed debootstrap left mounted (/proc, /sys)."""
    prefix = str(path.resolve()) + "/"
    with contextlib.suppress(OSError):
        mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
        for mount in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
    shutil.rmtree(path, ignore_errors=True)


def import_changes(version: str, labels: dict[str, str]) -> list[str]:
    """Dockerfile lines `docker import --change` applies."""
    changes = [f"ENV {name}={value}" for name, value in image_env(version).items()]
    changes += [f'LABEL {name}="{value}"' for name, value in labels.items()]
    changes += [
        f"WORKDIR {WORKDIR}",
        "EXPOSE 8000",
        f"CMD {json.dumps(['/bin/sh', '-c', DEFAULT_CMD])}",
    ]
    return changes


def _finish_rootfs(rootfs: Path) -> None:
    shutil.copytree(RUNTIME_FILES, rootfs, dirs_exist_ok=True, symlinks=True)
    _mkdir_public(rootfs, WORKDIR.lstrip("/"))
    for junk in ("var/lib/apt/lists", "var/cache/apt", "var/cache/debconf", "usr/share/man"):
        path = rootfs / junk
        if path.is_dir():
            for child in path.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                elif child.name != "lock":
                    child.unlink(missing_ok=True)
    _mkdir_public(rootfs, "var/lib/apt/lists/partial")
    _mkdir_public(rootfs, "var/cache/apt/archives/partial")
    for path in rootfs.rglob("__pycache__"):
        if "defaultsite" in path.parts:
            shutil.rmtree(path, ignore_errors=True)


def _mkdir_public(rootfs: Path, relative: str) -> None:
    """mkdir -p with 0755 folders, whatever the process's umask."""
    path = rootfs
    for part in Path(relative).parts:
        path = path / part
        if not path.exists():
            path.mkdir()
            path.chmod(0o755)


def _stream(
    command: list[str],
    progress: Progress,
    percent: int,
    stage: Callable[[str, int], int],
) -> None:
    """Run a command, passing each output line to progress; raise on failure."""
    lines: deque[str] = deque(maxlen=15)
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        umask=IMAGE_UMASK,
        env={**os.environ, "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"},
    )
    out: IO[str] = proc.stdout  # type: ignore[assignment]
    for raw in out:
        line = raw.rstrip()
        if not line:
            continue
        lines.append(line)
        percent = stage(line, percent)
        progress(percent, line)
    code = proc.wait()
    if code != 0:
        raise subprocess.CalledProcessError(code, command, stderr="\n".join(lines).encode())


# Recipe: pull a slim base and add to it


DOCKERFILE = """\
ARG BASE
FROM ${{BASE}}
ARG PIP_INDEX_URL=""
ARG PIP_EXTRA_INDEX_URL=""
COPY build-ca.crt /tmp/build-ca.crt
RUN if [ -s /tmp/build-ca.crt ]; then export PIP_CERT=/tmp/build-ca.crt; fi \\
 && PIP_INDEX_URL="$PIP_INDEX_URL" PIP_EXTRA_INDEX_URL="$PIP_EXTRA_INDEX_URL" \\
    python -m pip install --no-cache-dir --disable-pip-version-check {packages} \\
 && rm -f /tmp/build-ca.crt
COPY runtime_files/ /
{env}
{labels}
WORKDIR {workdir}
EXPOSE 8000
CMD {cmd}
"""


def dockerfile(version: str) -> str:
    env = "\n".join(f'ENV {k}="{v}"' for k, v in image_env(version).items())
    labels = "\n".join(f'LABEL {k}="{v}"' for k, v in image_labels(version, "pull").items())
    return DOCKERFILE.format(
        packages=" ".join(PIP_PACKAGES),
        env=env,
        labels=labels,
        workdir=WORKDIR,
        cmd=json.dumps(["/bin/sh", "-c", DEFAULT_CMD]),
    )


def build_args(base: str) -> dict[str, str]:
    args = {"BASE": base}
    if settings.BERTH_PIP_INDEX_URL:
        args["PIP_INDEX_URL"] = settings.BERTH_PIP_INDEX_URL
    if settings.BERTH_PIP_EXTRA_INDEX_URL:
        args["PIP_EXTRA_INDEX_URL"] = settings.BERTH_PIP_EXTRA_INDEX_URL
    return args


def build_by_pull(chosen: Plan, progress: Progress) -> None:
    tag = image_tag(chosen.version)
    progress(10, f"Pulling {chosen.base_image}")
    client.pull_image(chosen.base_image)
    context = Path(tempfile.mkdtemp(prefix=f"context-{chosen.version}-", dir=runtimes_dir()))
    try:
        (context / "Dockerfile").write_text(dockerfile(chosen.version))
        shutil.copytree(
            RUNTIME_FILES,
            context / "runtime_files",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        # The CA bundle pip trusts inside the build, so it works behind an
        # intercepting proxy (an empty file leaves pip on its own bundle).
        ca = Path(settings.BERTH_BUILD_CA_BUNDLE) if settings.BERTH_BUILD_CA_BUNDLE else None
        if ca and ca.is_file():
            shutil.copy(ca, context / "build-ca.crt")
        else:
            (context / "build-ca.crt").write_text("")
        (context / "build-ca.crt").chmod(0o644)
        percent = 30
        progress(percent, f"docker build {tag} FROM {chosen.base_image}")
        for line in client.build_image(str(context), tag, buildargs=build_args(chosen.base_image)):
            percent = min(percent + 2, 90)
            progress(percent, line)
    finally:
        shutil.rmtree(context, ignore_errors=True)
