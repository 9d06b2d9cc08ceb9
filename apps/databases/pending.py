"""Connections being made in the background (the first one to a service
builds its image: a minute or more): their progress as a small JSON file
per app and target, DATA_DIR/connections/<app>/<target>.json, that the
Service Connector page, the API and the CLI read, as runtime image builds
keep theirs (apps.engine.buildstate). A failure keeps its reason and code
until the next attempt."""

from __future__ import annotations

import json
import shutil
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings

from apps.engine import buildstate

LOG_LINES = 12
# How long a queued or running connection may stay silent before the page
# stops calling it busy (no worker took it, or the worker died).
PATIENCE = 15 * 60


class Status:
    QUEUED = "queued"
    RUNNING = "running"
    FAILED = "failed"
    DONE = "done"


@dataclass
class Pending:
    app: str
    target: str
    name: str
    client_type: str
    status: str = Status.QUEUED
    percent: int = 0
    message: str = ""
    error: str = ""
    code: str = ""  # the failure's code (ConnectionProblem's), for the API
    log: list[str] = field(default_factory=list)
    updated: float = field(default_factory=time.time)

    @property
    def busy(self) -> bool:
        """Queued or running, and heard from lately."""
        return (
            self.status in (Status.QUEUED, Status.RUNNING) and time.time() - self.updated < PATIENCE
        )

    @property
    def stalled(self) -> bool:
        return self.status in (Status.QUEUED, Status.RUNNING) and not self.busy


def _folder(app_name: str) -> Path:
    return Path(settings.DATA_DIR) / "connections" / app_name


def _path(app_name: str, target: str) -> Path:
    return _folder(app_name) / f"{target}.json"


def write(state: Pending) -> None:
    state.updated = time.time()
    _folder(state.app).mkdir(parents=True, exist_ok=True)
    buildstate.write_json(_path(state.app, state.target), asdict(state))


def read(app_name: str, target: str) -> Pending | None:
    try:
        data = json.loads(_path(app_name, target).read_text())
    except (OSError, ValueError):
        return None
    known = Pending.__dataclass_fields__
    return Pending(**{k: v for k, v in data.items() if k in known})


def for_app(app_name: str) -> list[Pending]:
    """The app's connections in the making or failed (not the finished ones)."""
    folder = _folder(app_name)
    found = (read(app_name, p.stem) for p in sorted(folder.glob("*.json")))
    return [p for p in found if p and p.status != Status.DONE]


def forget(app_name: str, target: str = "") -> None:
    """Drop one record, or all of an app's (the app was deleted)."""
    if target:
        _path(app_name, target).unlink(missing_ok=True)
    else:
        shutil.rmtree(_folder(app_name), ignore_errors=True)


class Recorder:
    """A progress callback (apps.engine.buildstate.Progress) that keeps the
    record up to date: at once when the percent moves, else a few writes a
    second at most (debootstrap talks a lot)."""

    def __init__(self, state: Pending) -> None:
        self.state = state
        self.state.status = Status.RUNNING
        self.lines: deque[str] = deque(state.log, maxlen=LOG_LINES)
        self._last_write = 0.0
        write(self.state)

    def __call__(self, percent: int, message: str) -> None:
        before = self.state.percent
        self.state.percent = max(before, min(percent, 99))
        self.state.message = message
        self.lines.append(message)
        self.state.log = list(self.lines)
        # A step that moves the percent is written at once: the line before
        # a long quiet step (a download) is what the page should show.
        if self.state.percent != before or time.monotonic() - self._last_write > 0.3:
            self._last_write = time.monotonic()
            write(self.state)

    def finish(self, error: str = "", code: str = "") -> None:
        self.state.status = Status.FAILED if error else Status.DONE
        self.state.error, self.state.code = error, code
        if not error:
            self.state.percent = 100
        write(self.state)
