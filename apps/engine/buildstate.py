"""A runtime image build's state, shared between processes: its progress
file (percent, message, last log lines), the queue mark a view sets, and
the flock that lets one build per version run at a time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

Progress = Callable[[int, str], None]
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


def write_json(path: Path, data: object) -> None:
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
    write_json(progress_path(state.version), state.__dict__)


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
