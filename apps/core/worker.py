"""Is a Celery worker taking work? Every worker writes DATA_DIR/worker-alive.json
every ALIVE_EVERY seconds while it consumes from the broker; the portal, the
API and the CLI read its age ("No worker is running: deployments wait in the
queue").

It is written by a consumer bootstep on the worker's own timer, not by a
task: a worker whose every slot is busy with a long build is alive and says
so, and a worker cut off from its broker stops saying it (the consumer's
steps stop with the connection). The data folder is shared by the portal and
the worker under `make run` and in compose.yaml (the berth-data volume).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from celery import bootsteps
from django.conf import settings

logger = logging.getLogger(__name__)

ALIVE_EVERY = 5.0  # seconds between writes
STALE_AFTER = 30.0  # seconds without a write: no worker is running
NO_WORKER = "No worker is running: deployments wait in the queue."


def alive_path() -> Path:
    return Path(settings.DATA_DIR) / "worker-alive.json"


def write_alive() -> None:
    path = alive_path()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"at": time.time(), "host": socket.gethostname()}))
        os.replace(tmp, path)
    except OSError as e:  # a full disk must not stop the worker
        logger.warning("Cannot write %s: %s", path, e)


@dataclass(frozen=True)
class WorkerState:
    running: bool
    last_seen: float | None  # seconds since the epoch; None: never

    @property
    def message(self) -> str:
        if self.running:
            return ""
        if self.last_seen is None:
            return f"{NO_WORKER} (none has run yet)"
        ago = max(int(time.time() - self.last_seen), 0)
        return f"{NO_WORKER} (the last one was seen {ago} s ago)"


def worker_state(now: float | None = None) -> WorkerState:
    try:
        seen = float(json.loads(alive_path().read_text())["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return WorkerState(False, None)
    now = time.time() if now is None else now
    return WorkerState(now - seen <= STALE_AFTER, seen)


class AliveStep(bootsteps.StartStopStep):
    """The consumer bootstep that writes worker-alive.json (portal/celery.py adds it)."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent, **kwargs) -> None:
        super().__init__(parent, **kwargs)
        self.tref = None

    def start(self, parent) -> None:
        write_alive()
        self.tref = parent.timer.call_repeatedly(ALIVE_EVERY, write_alive, priority=10)

    def stop(self, parent) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
