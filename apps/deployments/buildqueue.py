"""At most BERTH_MAX_CONCURRENT_BUILDS builds at once, across apps, threads,
processes and the portal and worker containers: a counting semaphore made of
flocks under DATA_DIR/locks (as the per-app lock is), so a builder that dies
frees its slot with its process.

    DATA_DIR/locks/build-slot-<i>.lock      one per slot; held while building
    DATA_DIR/locks/build-queue/<ticket>     one per waiter, flocked by it;
                                            the ticket sorts by arrival

A waiter tries for a slot only when fewer waiters than slots are ahead of it
(first come, first served); a ticket nobody holds locked is a dead waiter's
and is removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings

POLL = 0.5  # seconds between tries while waiting


class QueueTimeout(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _dir() -> Path:
    return Path(settings.DATA_DIR) / "locks"


def slots() -> int:
    return max(1, int(settings.BERTH_MAX_CONCURRENT_BUILDS))


def _try_flock(path: Path) -> int | None:
    """An fd holding an exclusive flock on `path`, or None if someone holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _release(fd: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    with contextlib.suppress(OSError):
        os.close(fd)


def _take_slot() -> int | None:
    for i in range(slots()):
        fd = _try_flock(_dir() / f"build-slot-{i}.lock")
        if fd is not None:
            return fd
    return None


def running() -> int:
    """Builds holding a slot right now (anywhere on this machine)."""
    busy = 0
    for i in range(slots()):
        fd = _try_flock(_dir() / f"build-slot-{i}.lock")
        if fd is None:
            busy += 1
        else:
            _release(fd)
    return busy


def _live_tickets() -> list[str]:
    """Tickets of live waiters, oldest first; dead waiters' tickets go."""
    queue = _dir() / "build-queue"
    live = []
    for path in sorted(queue.glob("*")):
        fd = _try_flock(path)
        if fd is None:
            live.append(path.name)
            continue
        # Nobody holds it: its waiter died (or just left). Remove it.
        with contextlib.suppress(OSError):
            path.unlink()
        _release(fd)
    return live


def waiting() -> int:
    return len(_live_tickets())


@contextlib.contextmanager
def build_slot(
    name: str,
    *,
    on_wait: Callable[[int], None] | None = None,
    timeout: float | None = None,
) -> Iterator[None]:
    """Hold a build slot for the block. While waiting, `on_wait(ahead)` is
    called whenever the number of waiters ahead changes. Raises
    QueueTimeout after `timeout` seconds (default BERTH_BUILD_QUEUE_WAIT)."""
    (_dir() / "build-queue").mkdir(parents=True, exist_ok=True)
    fd = _take_slot()
    if fd is None:
        fd = _wait(name, on_wait, timeout)
    try:
        yield
    finally:
        _release(fd)


def _wait(name: str, on_wait: Callable[[int], None] | None, timeout: float | None) -> int:
    limit = float(settings.BERTH_BUILD_QUEUE_WAIT if timeout is None else timeout)
    safe = "".join(c for c in name if c.isalnum() or c in "-_")[:80]
    ticket = f"{time.time_ns():020d}-{os.getpid()}-{safe}"
    path = _dir() / "build-queue" / ticket
    mine = _try_flock(path)
    assert mine is not None  # a new, unique file
    deadline = time.monotonic() + limit
    last = -1
    try:
        while True:
            tickets = _live_tickets()
            ahead = tickets.index(ticket) if ticket in tickets else 0
            if ahead < slots():
                fd = _take_slot()
                if fd is not None:
                    return fd
            if ahead != last and on_wait:
                on_wait(ahead)
            last = ahead
            if time.monotonic() >= deadline:
                raise QueueTimeout(
                    f"No build slot came free within {limit:.0f} s "
                    f"(BERTH_MAX_CONCURRENT_BUILDS={slots()}, BERTH_BUILD_QUEUE_WAIT): "
                    "deploy again later, or allow more builds at once."
                )
            time.sleep(POLL)
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        _release(mine)
