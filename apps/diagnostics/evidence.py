"""Evidence: everything the detectors look at, gathered once.

Detectors are pure functions of an Evidence, so they are tested with
hand-made ones; `collect()` is the only code here that reads the database,
the deployment artifacts and the Docker engine.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO

from django.conf import settings
from django.utils import timezone

from apps.core import failures
from apps.databases.connections import ConnectionState
from apps.databases.connections import state as connection_state
from apps.diagnostics import source as src
from apps.engine import client
from apps.engine.errors import EngineError
from apps.lifecycle import quota
from apps.webapps import operations
from apps.webapps.environment import mask, secret_values
from apps.webapps.masking import masker
from apps.webapps.models import WebApp

log = logging.getLogger(__name__)

APP_LABEL = "io.berth.app"
DEPLOYMENT_LABEL = "io.berth.deployment"
ROLE_LABEL = "io.berth.role"

# What is read from an upload: its listing (capped) and the text of the files
# detectors reason about (capped per file and in total).
MAX_FILES_LISTED = 20_000
MAX_FILE_BYTES = 256 * 1024
MAX_TOTAL_BYTES = 4 * 1024 * 1024
MAX_PY_FILES = 400
MAX_DEPTH = 5
_INTERESTING_NAMES = {
    "requirements.txt",
    "requirement.txt",
    "pyproject.toml",
    "pipfile",
    "setup.py",
    "setup.cfg",
    "runtime.txt",
    ".python-version",
    "gunicorn.conf.py",
    "pyvenv.cfg",
    "startup.sh",
    "startup.txt",
}

_TIMESTAMP = re.compile(
    r"^\[?(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\]?\s?"
)


@dataclass(frozen=True)
class LogLine:
    text: str
    origin: str  # "deployment #3" | "container berth-hello-3"
    number: int = 0  # 1-based line number within its origin
    timestamp: datetime | None = None

    @property
    def where(self) -> str:
        return f"{self.origin}, line {self.number}" if self.number else self.origin


@dataclass(frozen=True)
class AppConfig:
    name: str
    linux_fx_version: str = "PYTHON|3.11"
    app_command_line: str = ""
    state: str = "Running"
    app_settings: dict[str, str] = field(default_factory=dict)
    # (name, type, value)
    connection_strings: tuple[tuple[str, str, str], ...] = ()
    secrets: tuple[str, ...] = ()

    @property
    def python_version(self) -> str:
        return self.linux_fx_version.partition("|")[2]

    def setting(self, name: str, default: str = "") -> str:
        return self.app_settings.get(name, default)

    def setting_true(self, name: str) -> bool:
        return self.setting(name).strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class DeploymentRecord:
    id: int
    status: str  # queued | building | deploying | success | failed
    status_text: str = ""
    log: tuple[LogLine, ...] = ()
    active: bool = False
    created: datetime | None = None
    finished: datetime | None = None
    # How the release starts, as the deploy pipeline decided it
    # (apps.lifecycle.startup.Detection as a dict: rule, reason, command, looked_for).
    startup: dict = field(default_factory=dict)
    # Why it failed (apps.core.failures) and what was seen, secrets masked.
    failure_code: str = ""
    failure_evidence: dict = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def failure_lines(self) -> tuple[LogLine, ...]:
        """The app's last log lines the failure kept as evidence."""
        lines = self.failure_evidence.get("last_lines") or []
        origin = f"deployment #{self.id}"
        return tuple(LogLine(str(t), origin, 0, self.finished) for t in lines)


@dataclass(frozen=True)
class ContainerRecord:
    name: str
    status: str  # running | restarting | exited | created | dead
    exit_code: int | None = None
    oom_killed: bool = False
    restart_count: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str = ""
    deployment_id: int | None = None
    logs: tuple[LogLine, ...] = ()


@dataclass(frozen=True)
class SourceFiles:
    files: tuple[str, ...] = ()
    contents: dict[str, str] = field(default_factory=dict)
    origin: str = ""  # "deployment #3"
    truncated: bool = False

    def __bool__(self) -> bool:
        return bool(self.files)

    def has(self, path: str) -> bool:
        return path in self.files

    def read(self, path: str) -> str:
        return self.contents.get(path, "")

    @property
    def python_files(self) -> dict[str, str]:
        return {p: t for p, t in self.contents.items() if p.endswith(".py")}


@dataclass(frozen=True)
class StorageRecord:
    """The app's /home against its limit (apps.lifecycle.quota), and whether
    Berth's last operation on the app was the stop for going over it."""

    enabled: bool = True
    limit_bytes: int = 1024 * 1024 * 1024
    used_bytes: int | None = None
    measured: datetime | None = None
    stopped_message: str = ""  # the Stop's message when it was storage_full
    stopped_at: datetime | None = None

    @property
    def fraction(self) -> float | None:
        return None if self.used_bytes is None else self.used_bytes / self.limit_bytes


@dataclass(frozen=True)
class Evidence:
    app: AppConfig
    deployments: tuple[DeploymentRecord, ...] = ()  # newest first
    source: SourceFiles = field(default_factory=SourceFiles)
    containers: tuple[ContainerRecord, ...] = ()  # newest first
    collected_at: datetime | None = None
    # What could not be gathered, said plainly ("the Docker engine is not reachable ...").
    problems: tuple[str, ...] = ()
    # The real state of each Service Connector connection (apps.databases).
    connections: tuple[ConnectionState, ...] = ()
    storage: StorageRecord = field(default_factory=StorageRecord)

    @property
    def latest(self) -> DeploymentRecord | None:
        """The latest finished (or running) deployment: what the user last tried."""
        return self.deployments[0] if self.deployments else None

    @property
    def serving(self) -> DeploymentRecord | None:
        return next((d for d in self.deployments if d.active), None)

    def relevant_containers(self) -> tuple[ContainerRecord, ...]:
        """Containers of the latest deployment, or the newest ones when unlabelled."""
        latest = self.latest
        if latest is not None:
            mine = tuple(c for c in self.containers if c.deployment_id == latest.id)
            if mine:
                return mine
        return self.containers[:1]

    def runtime_lines(self) -> Iterator[LogLine]:
        """Lines the app and its start-up wrote: the latest deployment's log
        (which holds the start-up of the release it tried) and its containers'."""
        if self.latest is not None:
            yield from self.latest.log
        for c in self.relevant_containers():
            yield from c.logs

    def build_lines(self) -> tuple[LogLine, ...]:
        return self.latest.log if self.latest is not None else ()


_CLOCK = re.compile(r"^(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d) ")


def parse_log(text: str, origin: str, day: datetime | None = None) -> tuple[LogLine, ...]:
    """Split a log into lines, taking a leading timestamp off each when there
    is one (a full one, or a time of day on `day`, as deployment logs write)."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        ts = None
        if m := _TIMESTAMP.match(line):
            ts = parse_time(m.group("ts"))
            if ts is not None:
                line = line[m.end() :]
        elif day is not None and (m := _CLOCK.match(line)):
            ts = day.replace(
                hour=int(m["h"]), minute=int(m["m"]), second=int(m["s"]), microsecond=0
            )
            line = line[m.end() :]
        out.append(LogLine(text=line, origin=origin, number=n, timestamp=ts))
    return tuple(out)


def parse_time(value: str) -> datetime | None:
    if not value:
        return None
    v = value.replace(",", ".").replace(" ", "T", 1).replace("Z", "+00:00")
    # The engine gives nanoseconds; Python takes at most microseconds.
    v = re.sub(r"(\.\d{6})\d+", r"\1", v)
    try:
        ts = datetime.fromisoformat(v)
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


# Source: an uploaded zip, or a folder


def _wanted(path: str, venvs: list[str]) -> bool:
    p = PurePosixPath(path)
    name = p.name.lower()
    if name == "pyvenv.cfg":
        return True
    if src.in_venv(path, venvs) or "site-packages" in p.parts or "node_modules" in p.parts:
        return False
    if len(p.parts) > MAX_DEPTH:
        return False
    if name in _INTERESTING_NAMES or "requirement" in name:
        return True
    return p.suffix in (".py", ".toml") or (p.suffix == ".sh" and len(p.parts) == 1)


def _read_files(names: list[str], opener) -> SourceFiles:
    truncated = len(names) > MAX_FILES_LISTED
    names = names[:MAX_FILES_LISTED]
    venvs = src.venv_roots(names)
    contents: dict[str, str] = {}
    total = 0
    py_files = 0
    # Shallow files first: the root's requirements.txt matters more than a test helper.
    for name in sorted(names, key=lambda n: (n.count("/"), n)):
        if not _wanted(name, venvs):
            continue
        if name.endswith(".py"):
            if py_files >= MAX_PY_FILES:
                truncated = True
                continue
            py_files += 1
        data = opener(name)
        if data is None:
            continue
        if len(data) > MAX_FILE_BYTES or total + len(data) > MAX_TOTAL_BYTES:
            truncated = True
            continue
        total += len(data)
        contents[name] = data.decode("utf-8", "replace")
    return SourceFiles(files=tuple(names), contents=contents, truncated=truncated)


def read_zip(file: str | Path | IO[bytes]) -> SourceFiles:
    """File names and the interesting files' text from a zip (never extracted)."""
    with zipfile.ZipFile(file) as zf:
        infos = {i.filename.lstrip("./"): i for i in zf.infolist() if not i.is_dir()}
        infos = {n: i for n, i in infos.items() if n and ".." not in PurePosixPath(n).parts}

        def opener(name: str) -> bytes | None:
            info = infos[name]
            if info.file_size > MAX_FILE_BYTES:
                return b"\0" * (MAX_FILE_BYTES + 1)
            try:
                return zf.read(info)
            except (zipfile.BadZipFile, RuntimeError, OSError):
                return None

        return _read_files(sorted(infos), opener)


def read_folder(root: Path) -> SourceFiles:
    names = []
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            names.append(p.relative_to(root).as_posix())
            if len(names) > MAX_FILES_LISTED:
                break

    def opener(name: str) -> bytes | None:
        path = root / name
        if path.stat().st_size > MAX_FILE_BYTES:
            return b"\0" * (MAX_FILE_BYTES + 1)
        try:
            return path.read_bytes()
        except OSError:
            return None

    return _read_files(sorted(names), opener)


def _artifact_path(artifact: str) -> Path | None:
    if not artifact:
        return None
    path = Path(artifact)
    if not path.is_absolute():
        path = Path(settings.DATA_DIR) / path
    return path if path.exists() else None


def read_artifact(artifact: str) -> SourceFiles:
    path = _artifact_path(artifact)
    if path is None:
        return SourceFiles()
    if path.is_dir():
        return read_folder(path)
    return read_zip(path)


# Collection


def _config(app: WebApp) -> AppConfig:
    return AppConfig(
        name=app.name,
        linux_fx_version=app.linux_fx_version,
        app_command_line=app.app_command_line,
        state=app.state,
        app_settings={s.name: s.value for s in app.app_settings.all()},
        connection_strings=tuple((c.name, c.type, c.value) for c in app.connection_strings.all()),
        secrets=tuple(secret_values(app)),
    )


# The build log opens with the pre-deployment check's lines (precheck.py):
# predictions made before the build, not what happened, so detectors don't
# take them as evidence. The line numbers stay those of the whole log.
PRECHECK_PREFIX = "Pre-deployment check:"


def _observed(lines: Iterable[LogLine]) -> list[LogLine]:
    return [ln for ln in lines if not ln.text.startswith(PRECHECK_PREFIX)]


def _masked(lines: Iterable[LogLine], secrets: list[str]) -> tuple[LogLine, ...]:
    # Masked as one run of lines: a secret split across two is masked in both.
    rows = list(lines)
    texts = masker(secrets).lines(ln.text for ln in rows)
    return tuple(
        LogLine(text, ln.origin, ln.number, ln.timestamp)
        for ln, text in zip(rows, texts, strict=True)
    )


def _containers(app: WebApp, secrets: list[str], tail: int) -> tuple[list[ContainerRecord], str]:
    records = []
    try:
        names = client.find_containers({APP_LABEL: app.name})[:5]
        for name in names:
            state = client.container_state(name)
            if state.labels.get(ROLE_LABEL, "app") != "app":
                continue  # build containers: their output is in the deployment log
            lines = client.container_logs(name, tail=tail, timestamps=True)
            dep = state.labels.get(DEPLOYMENT_LABEL, "")
            records.append(
                ContainerRecord(
                    name=state.name,
                    status=state.status,
                    exit_code=state.exit_code,
                    oom_killed=state.oom_killed,
                    restart_count=state.restart_count,
                    started_at=parse_time(state.started_at),
                    finished_at=parse_time(state.finished_at),
                    error=state.error,
                    deployment_id=int(dep) if dep.isdigit() else None,
                    logs=_masked(parse_log("\n".join(lines), f"container {state.name}"), secrets),
                )
            )
    except EngineError as e:
        return records, e.message
    return records, ""


def _masked_evidence(evidence: dict, secrets: list[str]) -> dict:
    """Failure evidence with secrets masked again (they are at the source;
    a secret saved since then is masked too)."""
    out: dict = {}
    for key, value in evidence.items():
        if isinstance(value, str):
            value = mask(value, secrets)
        elif isinstance(value, list):
            value = [mask(v, secrets) if isinstance(v, str) else v for v in value]
        out[key] = value
    return out


def collect(app: WebApp, *, deployments: int = 5, tail: int = 500) -> Evidence:
    """Gather the evidence for one app. Never raises for a missing engine or
    artifact: what could not be read goes into `problems`."""
    config = _config(app)
    secrets = list(config.secrets)
    problems: list[str] = []

    records = []
    artifact = ""
    origin = ""
    for d in app.deployments.order_by("-created", "-pk")[:deployments]:
        origin_name = f"deployment #{d.pk}"
        records.append(
            DeploymentRecord(
                id=d.pk,
                status=d.status,
                status_text=mask(d.status_text, secrets),
                log=_masked(
                    _observed(parse_log(d.log, origin_name, d.started or d.created)), secrets
                ),
                active=d.active,
                created=d.created,
                finished=d.finished,
                startup=dict(getattr(d, "startup", None) or {}),
                failure_code=d.failure_code,
                failure_evidence=_masked_evidence(d.failure_evidence or {}, secrets),
            )
        )
        if not artifact and d.artifact:
            artifact, origin = d.artifact, origin_name

    source = SourceFiles()
    if artifact:
        try:
            source = read_artifact(artifact)
        except (OSError, zipfile.BadZipFile) as e:
            problems.append(f"The code of {origin} could not be read ({e}).")
        else:
            if not source:
                problems.append(f"The code of {origin} is no longer kept ({artifact}).")
            source = SourceFiles(source.files, source.contents, origin, source.truncated)

    containers, engine_problem = _containers(app, secrets, tail)
    if engine_problem:
        problems.append(engine_problem)

    return Evidence(
        app=config,
        deployments=tuple(records),
        source=source,
        containers=tuple(containers),
        collected_at=timezone.now(),
        problems=tuple(problems),
        connections=tuple(connection_state(c) for c in app.service_connections.all()),
        storage=_storage(app),
    )


def _storage(app: WebApp) -> StorageRecord:
    home = quota.current(app)
    last = operations.latest(app)
    stopped = last is not None and last.failure_code == failures.STORAGE_FULL
    return StorageRecord(
        enabled=home.enabled,
        limit_bytes=home.limit_bytes,
        used_bytes=home.used_bytes,
        measured=home.measured,
        stopped_message=last.message if stopped else "",
        stopped_at=last.finished if stopped else None,
    )
