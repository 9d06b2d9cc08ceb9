"""One deployment, restart, start or stop of an app at a time: a per-app
lock that holds across threads, processes and the portal and worker
containers (a flock on DATA_DIR/locks/<app>.lock)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings


class AppBusy(Exception):
    """Another deployment or restart of the app holds its lock."""

    def __init__(self, message: str, waited: float = 0) -> None:
        super().__init__(message)
        self.message = message
        self.waited = waited


_held = threading.local()


def lock_path(app_name: str) -> Path:
    return Path(settings.DATA_DIR) / "locks" / f"{app_name}.lock"


def lock_wait_limit(start_limit: float | None = None) -> float:
    """How long a second deploy or restart waits for the first: as long as
    one can take (build, then start-up), plus a margin. `start_limit` is the
    app's own (WEBSITES_CONTAINER_START_TIME_LIMIT, up to 1800 s: see
    apps.webapps.environment.start_time_limit), else Berth's."""
    start = settings.BERTH_START_TIME_LIMIT if start_limit is None else start_limit
    return float(settings.BERTH_BUILD_TIMEOUT + start + 60)


@contextlib.contextmanager
def app_lock(
    app_name: str, *, timeout: float | None = None, start_limit: float | None = None
) -> Iterator[None]:
    """One deploy/restart of an app at a time, across threads, processes and
    the portal and worker containers (a flock on DATA_DIR/locks/<app>.lock).
    The kernel drops the lock when its holder dies, so a crashed worker never
    leaves an app locked. Re-entrant in one thread. Waits up to `timeout`
    seconds (default lock_wait_limit(start_limit); 0 means don't wait),
    then raises AppBusy."""
    held = getattr(_held, "apps", None)
    if held is None:
        held = _held.apps = {}
    if app_name in held:
        held[app_name] += 1
        try:
            yield
        finally:
            held[app_name] -= 1
        return
    path = lock_path(app_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        limit = lock_wait_limit(start_limit) if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise AppBusy(
                        f"Another deployment or restart of {app_name} is still running "
                        f"(waited {limit:.0f} s): try again when it has finished.",
                        limit,
                    ) from None
                time.sleep(0.2)
        held[app_name] = 1
        try:
            yield
        finally:
            del held[app_name]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_locked(app_name: str) -> bool:
    """True while some deploy or restart of the app runs (anywhere)."""
    try:
        with app_lock(app_name, timeout=0):
            return False
    except AppBusy:
        return True
