"""Logs kept across deploys and restarts: the log archive.

One long-lived process (`python manage.py archive_logs`, started beside the
worker) follows every running app container's stdout and stderr and appends
each line, masked, to DATA_DIR/logs/<app>/app.log as

    <engine timestamp> <container name> <stdout|stderr|marker> <text>

When app.log reaches half of BERTH_APP_LOG_MB it becomes app.log.1 (the older
half is dropped), so an app never keeps more than BERTH_APP_LOG_MB on disk.

Catching up after a restart of the archiver: for each container it remembers
the last timestamp written (state.json, saved every second, and the archive's
own tail, which is written first), and asks the engine only for what came
after it, so no line is written twice.

The engine forgets a container's output when the container is removed, so
whatever removes an app container (apps.lifecycle.cutover.retire_others)
calls keep_last_lines() between stopping and removing it: with no archiver
running it writes what the archive lacks itself, under the archiver's lock;
with one running it waits briefly for it to write the end. The archiver holds
that lock for as long as it runs: one writer per archive at any time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from apps.engine import client as engine
from apps.engine.errors import ContainerMissing, EngineError
from apps.logs.timestamps import ns_to_since, to_ns
from apps.webapps.environment import environment_secrets, secret_values
from apps.webapps.masking import LineMasker, masker
from apps.webapps.models import WebApp

logger = logging.getLogger(__name__)

CURRENT = "app.log"
OLDER = "app.log.1"
STATE = "state.json"
# logs/.removed/<app>.json: the containers of a deleted app, whose last lines
# an archiver may still hold; it drops them rather than recreate the archive.
REMOVED = ".removed"
APP_LABEL = "io.berth.app"
SCAN_BYTES = 256 * 1024  # the archive's tail read at start to find where each container was
SAVE_EVERY = 1.0  # seconds between saves of state.json
FLUSH_EVERY = 0.2  # seconds a line may wait in memory before it is written
BATCH = 500  # lines: a chatty container writes at once past this
LOCK = ".archiver.lock"
# How long `manage.py archive_logs` waits for the lock: keep_last_lines()
# holds it for a moment while no archiver runs.
START_WAIT = 15.0
# Seconds keep_last_lines() waits for a running archiver to write the end of
# a stopped container (it usually has within a few milliseconds: the
# container's log stream ends with it, and the archiver writes at once).
ARCHIVER_WAIT = 3.0
MIN_LINE_BYTES = 48  # an archive line's timestamp, container and stream alone


# --- where and how much ------------------------------------------------------------


def logs_root() -> Path:
    return Path(settings.DATA_DIR) / "logs"


def app_dir(app_name: str) -> Path:
    # App names are DNS labels (letters, digits, '-'): safe as a folder name.
    return logs_root() / app_name


def max_bytes() -> int:
    return max(int(float(settings.BERTH_APP_LOG_MB) * 1024 * 1024), 4096)


# --- timestamps (the engine's RFC 3339 with nanoseconds) ---------------------------


# --- one line ------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchivedLine:
    timestamp: str
    container: str
    stream: str  # stdout | stderr | marker
    text: str

    def render(self) -> str:
        text = self.text.replace("\n", " ").replace("\r", "")
        return f"{self.timestamp} {self.container} {self.stream} {text}\n"


def parse(raw: str) -> ArchivedLine | None:
    parts = raw.rstrip("\n").split(" ", 3)
    if len(parts) < 3 or not to_ns(parts[0]):
        return None
    return ArchivedLine(parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else "")


# --- the files -----------------------------------------------------------------------

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(app_name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(app_name, threading.Lock())


def append(app_name: str, lines: Iterable[ArchivedLine]) -> int:
    """Append lines (already masked) to the app's archive, rotating whenever
    the current file would pass half the budget. Returns the bytes written."""
    folder = app_dir(app_name)
    half = max_bytes() // 2
    written = 0
    with _lock(app_name):
        folder.mkdir(parents=True, exist_ok=True)
        current = folder / CURRENT
        try:
            used = current.stat().st_size
        except FileNotFoundError:
            used = 0
        chunk: list[bytes] = []
        size = 0
        for line in lines:
            data = line.render().encode("utf-8", "replace")
            if len(data) > half:  # one huge line: keep its head
                data = data[: half - 1] + b"\n"
            if used + size + len(data) > half:
                written += _write(current, chunk)
                chunk, size, used = [], 0, 0
                with contextlib.suppress(FileNotFoundError):
                    os.replace(current, folder / OLDER)
            chunk.append(data)
            size += len(data)
        written += _write(current, chunk)
    return written


def _write(path: Path, chunk: list[bytes]) -> int:
    if not chunk:
        return 0
    data = b"".join(chunk)
    with open(path, "ab") as f:
        f.write(data)
    return len(data)


def _read_lines(path: Path) -> Iterator[str]:
    with (
        contextlib.suppress(FileNotFoundError),
        open(path, encoding="utf-8", errors="replace") as f,
    ):
        yield from f


def tail(app_name: str, lines: int = 1000) -> list[ArchivedLine]:
    """The last `lines` archived lines of the app, oldest first."""
    folder = app_dir(app_name)
    last: deque[ArchivedLine] = deque(maxlen=max(lines, 0))
    with _lock(app_name):
        for path in (folder / OLDER, folder / CURRENT):
            for raw in _read_lines(path):
                if (found := parse(raw)) is not None:
                    last.append(found)
    return list(last)


def size(app_name: str) -> int:
    folder = app_dir(app_name)
    total = 0
    for name in (CURRENT, OLDER):
        with contextlib.suppress(FileNotFoundError):
            total += (folder / name).stat().st_size
    return total


# --- deleting an app ---------------------------------------------------------------


def _removed_path(app_name: str) -> Path:
    return logs_root() / REMOVED / f"{app_name}.json"


def removed_containers(app_name: str) -> set[str]:
    """The containers of the deleted app(s) called `app_name`."""
    with contextlib.suppress(FileNotFoundError, ValueError, TypeError):
        return {str(name) for name in json.loads(_removed_path(app_name).read_text())}
    return set()


def delete_app_logs(app_name: str, containers: Iterable[str] = ()) -> bool:
    """Remove the app's archive (app.log, app.log.1, state.json), for
    deleting the app. An archiver in another process may still be writing
    the last lines of `containers` (just removed) when this runs: they are
    named in logs/.removed/<app>.json first, and the archiver drops their
    lines instead of writing the archive back. Container names carry the
    deployment number, so an app created later with the same name never
    shares one. Every container the archive knows is named too: one retired
    before the delete may still have lines in an archiver lagging behind.
    True if there was an archive; raises OSError if it stays."""
    names = removed_containers(app_name) | set(containers) | set(load_state(app_name))
    if names:
        path = _removed_path(app_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(names)))
        os.replace(tmp, path)
    folder = app_dir(app_name)
    with _lock(app_name):
        if not folder.exists():
            return False
        shutil.rmtree(folder)
    return True


# --- where each container was --------------------------------------------------------


def load_state(app_name: str) -> dict[str, int]:
    """{container name: last timestamp archived (ns)}: state.json, then the
    archive's tail (written before state.json, so it may be newer)."""
    folder = app_dir(app_name)
    state: dict[str, int] = {}
    with contextlib.suppress(FileNotFoundError, ValueError, TypeError):
        state = {k: int(v) for k, v in json.loads((folder / STATE).read_text()).items()}
    for path in (folder / OLDER, folder / CURRENT):
        for raw in _tail_of(path, SCAN_BYTES):
            if (found := parse(raw)) is not None:
                ns = to_ns(found.timestamp)
                if ns > state.get(found.container, 0):
                    state[found.container] = ns
    return state


def save_state(app_name: str, state: dict[str, int]) -> None:
    folder = app_dir(app_name)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{STATE}.tmp"
    tmp.write_text(json.dumps(state, sort_keys=True))
    os.replace(tmp, folder / STATE)


def _tail_of(path: Path, nbytes: int) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            end = f.tell()
            f.seek(max(end - nbytes, 0))
            data = f.read()
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[1:] if end > nbytes else lines  # the first may be cut


# --- engine lines as archive lines ------------------------------------------------------


def archived_lines(
    container: str,
    started_at: str,
    lines: Iterable[engine.LogLine],
    after_ns: int,
    secrets: list[str],
) -> Iterator[tuple[ArchivedLine, int]]:
    """A container's lines from the engine as the archive keeps them, each
    with the timestamp the archive has reached once it is written: masked
    whole, those at or before `after_ns` left out (archived before: the
    engine's `since` is inclusive), and a "container … started" marker, as in
    the Log stream, for a start the archive has not seen, placed before the
    first line of that run (lines of the run before come first). The
    archiver and keep_last_lines() both write through this: one shape.
    A line ending with the start of a secret waits for the next one (or the
    end of the stream): a secret split across the two is masked in both."""
    started_ns = to_ns(started_at)
    marker = (
        ArchivedLine(started_at, container, "marker", f"container {container} started")
        if started_ns > after_ns
        else None
    )
    reached = after_ns
    stream: LineMasker[tuple[engine.LogLine, int]] = LineMasker(masker(secrets))

    def ready(
        masked: list[tuple[tuple[engine.LogLine, int], str]],
    ) -> Iterator[tuple[ArchivedLine, int]]:
        for (line, at), text in masked:
            yield ArchivedLine(line.timestamp, container, line.stream, text), at

    for line in lines:
        ns = to_ns(line.timestamp)
        if ns and ns <= after_ns:
            continue
        if marker is not None and (not ns or ns >= started_ns):
            yield from ready(stream.end())  # the run before this start
            yield marker, reached
            marker = None
        reached = max(reached, ns)
        # stdout and stderr are copied apart, so a line may be a little older
        # than the one before it: still new to the archive, still written.
        yield from ready(stream.push((line, reached), line.text))
    yield from ready(stream.end())
    if marker is not None:
        yield marker, max(reached, started_ns)


def secrets_of(app_name: str, container: str) -> list[str]:
    """What to mask in `container`'s lines: the app's secrets now and the
    ones the container was started with (a settings change retires it).
    Raises DatabaseError: unmasked lines must never reach the disk."""
    app = WebApp.objects.filter(name=app_name).first()
    found = set(secret_values(app)) if app else set()
    try:
        found.update(environment_secrets(engine.container_environment(container)))
    except EngineError as e:
        logger.warning("Cannot read the environment of %s: %s", container, e.message)
    return sorted(found, key=len, reverse=True)


# --- the archiver ----------------------------------------------------------------------


class Archiver:
    """Follows every running app container (one thread each) and writes
    their lines to the archive. `tick()` looks for new containers; call it
    every couple of seconds (`run()` does)."""

    def __init__(self, only: set[str] | None = None) -> None:
        self.only = only  # app names to follow (tests); None: every app
        self.threads: dict[str, threading.Thread] = {}  # container id -> follower thread
        self.followers: dict[str, engine.LogFollower] = {}
        self.states: dict[str, dict[str, int]] = {}  # app -> container -> ns
        self.dirty: set[str] = set()
        self.pending: dict[tuple[str, str], tuple[list[ArchivedLine], int]] = {}
        self.guard = threading.Lock()
        self.flushing = threading.Lock()
        self.stopping = threading.Event()
        self.lock_file: IO | None = None  # the single-archiver lock, held from claim() to stop()
        self.closed = False  # stopped: writes nothing more

    def claim(self, wait: float = 0.0) -> bool:
        """Take the single-archiver lock, trying for `wait` seconds; held
        until stop(). False if another archiver (or keep_last_lines) has it."""
        if self.lock_file is not None:
            return True
        if self.stopping.is_set():
            return False
        held = _take_lock(wait)
        if held is None:
            return False
        with self.guard:
            # Read the states again: keep_last_lines() may have written while
            # nobody archived.
            self.states.clear()
        self.lock_file = held
        return True

    def state_of(self, app_name: str) -> dict[str, int]:
        with self.guard:
            if app_name not in self.states:
                self.states[app_name] = load_state(app_name)
            return self.states[app_name]

    def tick(self) -> int:
        """Start following containers not followed yet; the number followed."""
        for cid in [c for c, t in self.threads.items() if not t.is_alive()]:
            del self.threads[cid]
        if not self.claim():
            logger.warning("Another archiver holds %s: not archiving", logs_root() / LOCK)
            return 0
        try:
            running = engine.running_containers(APP_LABEL)
        except EngineError as e:
            logger.warning("%s", e.message)
            return len(self.threads)
        for c in running:
            app_name = c.labels.get(APP_LABEL, "")
            # Build containers log into Deployment.log; only app containers here.
            if not app_name or c.labels.get("io.berth.role", "app") != "app":
                continue
            if self.only is not None and app_name not in self.only:
                continue
            if c.id in self.threads:
                continue
            try:
                secrets = secrets_of(app_name, c.name)
            except DatabaseError:
                # Unmasked lines must never reach the disk: try again next tick.
                logger.warning("Cannot read %s's settings to mask its log", app_name)
                continue
            # The database is read here, in the archiver's own thread, not in
            # the followers'.
            thread = threading.Thread(
                target=self.follow,
                args=(app_name, c.name, c.id, secrets),
                name=f"archive-{c.name}",
            )
            thread.daemon = True
            self.threads[c.id] = thread
            thread.start()
        return len(self.threads)

    def follow(self, app_name: str, container: str, cid: str, secrets: list[str]) -> None:
        state = self.state_of(app_name)
        last_ns = state.get(container, 0)
        try:
            started = engine.container_state(container).started_at
            follower = engine.container_logs_stream(container, since=_since(last_ns), tail="all")
        except EngineError as e:
            logger.warning("Not archiving %s: %s", container, e.message)
            return
        self.followers[cid] = follower
        logger.info("Archiving %s of %s (from %s)", container, app_name, last_ns or "its start")
        key = (app_name, container)
        try:
            # Masked per whole line: the follower joins chunks into lines first.
            for line, ns in archived_lines(container, started, follower, last_ns, secrets):
                if self.stopping.is_set():
                    break  # the next archiver takes it from the saved state
                if self.add(key, line, ns) >= BATCH:
                    self.flush()
        except EngineError as e:
            logger.warning("%s", e.message)
        finally:
            self.flush()
            self.followers.pop(cid, None)
            self.save(app_name)

    def add(self, key: tuple[str, str], line: ArchivedLine, ns: int) -> int:
        """Queue a line for the next flush(); the number queued for `key`."""
        with self.guard:
            lines, _ = self.pending.get(key, ([], 0))
            lines.append(line)
            self.pending[key] = (lines, ns)
            return len(lines)

    def flush(self) -> None:
        """Write what the followers queued (run() calls it every FLUSH_EVERY
        seconds, so a quiet container's last line is on disk at once)."""
        with self.flushing:  # one writer at a time: lines stay in order
            with self.guard:
                if self.closed:
                    # Stopped: the lock is someone else's now. These lines are
                    # not in the state, so the next writer takes them again.
                    self.pending = {}
                    return
                pending, self.pending = self.pending, {}
            for (app_name, container), (lines, ns) in pending.items():
                if container in removed_containers(app_name):
                    continue  # its app was deleted: don't write its archive back
                append(app_name, lines)
                with self.guard:
                    self.states.setdefault(app_name, {})[container] = ns
                    self.dirty.add(app_name)

    def save(self, app_name: str | None = None) -> None:
        with self.guard:
            if self.closed:
                return  # an older state must never overwrite a newer writer's
            names = [app_name] if app_name else sorted(self.dirty)
            for name in names:
                if name in self.states:
                    state = self.states[name]
                    if gone := removed_containers(name):
                        # A deleted app's containers: forgotten, and their
                        # state alone never brings its archive folder back.
                        state = {c: ns for c, ns in state.items() if c not in gone}
                        self.states[name] = state
                    if state or not gone:
                        save_state(name, dict(state))
                self.dirty.discard(name)

    def step(self) -> int:
        """Look for new containers and write what came: one tick of run()."""
        followed = self.tick()
        self.flush()
        self.save()
        return followed

    def run(self, poll: float = 2.0) -> None:
        """Until stop(): look for containers every `poll` seconds, write
        queued lines every FLUSH_EVERY, save state every SAVE_EVERY."""
        last_look = last_save = 0.0
        while not self.stopping.is_set():
            now = time.monotonic()
            if now - last_look >= poll:
                close_old_connections()  # a long-lived process: reconnect after a DB restart
                self.tick()
                last_look = now
            self.flush()
            if now - last_save >= SAVE_EVERY:
                self.save()
                last_save = now
            self.stopping.wait(FLUSH_EVERY)
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        # close() can wait for the blocked read it ends: never let it hold up
        # the flush below (the follower threads are daemons).
        for follower in list(self.followers.values()):
            threading.Thread(target=_close_quietly, args=(follower,), daemon=True).start()
        deadline = time.monotonic() + 2
        for thread in list(self.threads.values()):
            thread.join(max(deadline - time.monotonic(), 0))
        self.flush()
        self.save()
        with self.flushing, self.guard:
            self.closed = True
        if self.lock_file is not None:
            _release_lock(self.lock_file)
            self.lock_file = None


def _close_quietly(follower: engine.LogFollower) -> None:
    with contextlib.suppress(Exception):
        follower.close()


def _take_lock(wait: float = 0.0) -> IO | None:
    """The single-archiver lock (a flock on DATA_DIR/logs/.archiver.lock,
    also between threads: each take opens the file anew), trying for `wait`
    seconds; None if another holds it."""
    logs_root().mkdir(parents=True, exist_ok=True)
    f = open(logs_root() / LOCK, "w")  # noqa: SIM115 (held past this function)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return f
        except BlockingIOError:
            if time.monotonic() >= deadline:
                f.close()
                return None
            time.sleep(0.1)


def _release_lock(f: IO) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(f, fcntl.LOCK_UN)
    f.close()


@contextlib.contextmanager
def single_archiver(wait: float = 0.0) -> Iterator[bool]:
    """True if nobody else archives this DATA_DIR (waiting up to `wait`
    seconds for the lock): two writers would write every line twice."""
    held = _take_lock(wait)
    try:
        yield held is not None
    finally:
        if held is not None:
            _release_lock(held)


# --- before a container is removed -------------------------------------------------------


@dataclass(frozen=True)
class Kept:
    """What keep_last_lines() did for one container."""

    container: str
    written: int = 0  # lines it wrote itself (no archiver was running)
    warning: str = ""  # why the archive may lack some of its last lines


def keep_last_lines(
    app_name: str, containers: Iterable[str], *, wait: float = ARCHIVER_WAIT
) -> list[Kept]:
    """Call with the app's containers stopped, before removing them: their
    lines up to the end go into the archive, exactly once.

    - No archiver runs (its lock is free): take the lock, write the lines the
      archive lacks (after the state's timestamp: masked, with the start
      marker, as the archiver writes them), save the state, let go. An
      archiver starting meanwhile waits for the lock, then reads that state.
    - An archiver runs: it follows them, and writes their last lines as
      their streams end with the stop. Wait up to `wait` seconds for the
      archive to reach each one's last line, trying the lock meanwhile (it
      may be another release's keep_last_lines holding it for a moment, or
      an archiver that stops: then write them here as above). If neither
      happens in time, write nothing (a line written by both would be there
      twice) and say so in `warning`.
    Never raises: removing a container must not fail for its log."""
    gone = removed_containers(app_name)  # a deleted app: its archive is gone too
    names = [c for c in containers if c not in gone]
    if not names:
        return []
    try:
        return _keep(app_name, names, wait)
    except (OSError, DatabaseError) as e:
        logger.warning("Could not archive the last lines of %s: %s", ", ".join(names), e)
        why = f"its last lines could not be archived ({e})"
        return [Kept(c, warning=f"{c}: {why}") for c in names]


def _keep(app_name: str, names: list[str], wait: float) -> list[Kept]:
    kept: dict[str, Kept] = {}
    ends: dict[str, int] | None = None  # where each one's archive must reach
    deadline = time.monotonic() + wait
    while True:
        waiting = [n for n in names if n not in kept]
        with single_archiver() as alone:
            if alone:
                kept.update((k.container, k) for k in _write_last_lines(app_name, waiting))
                break
        if ends is None:
            ends = {}
            for name in waiting:
                try:
                    ends[name] = _last_timestamp(name)
                except ContainerMissing:
                    kept[name] = Kept(name)  # removed already: nothing of it to keep
                except EngineError as e:
                    kept[name] = Kept(name, warning=_unreadable(name, e))
        state = load_state(app_name)
        for name in [n for n, end in ends.items() if n not in kept and state.get(n, 0) >= end]:
            kept[name] = Kept(name)  # the archiver has written it all
        if len(kept) == len(names):
            break
        if time.monotonic() >= deadline:
            for name in [n for n in names if n not in kept]:
                why = (
                    f"{name}: the archiver running beside Berth had not written its last lines "
                    f"within {wait:g} s of the stop; they may be missing from the log archive"
                )
                logger.warning("%s", why)
                kept[name] = Kept(name, warning=why)
            break
        time.sleep(0.05)
    return [kept[name] for name in names]


def _last_timestamp(name: str) -> int:
    """What the archive has of a stopped container once it has all of it:
    its newest line, or its start (the archiver's marker) if it printed
    nothing after."""
    started = to_ns(engine.container_state(name).started_at)
    last = engine.container_logs_stream(name, tail=100, follow=False)
    return max([started, *(to_ns(line.timestamp) for line in last)])


def _unreadable(name: str, e: EngineError) -> str:
    return f"{name}: its last lines could not be read ({e.message})"


def _since(ns: int) -> str:
    """`since` for the engine: after `ns` (inclusive), or everything."""
    return ns_to_since(ns) if ns else ""


def _write_last_lines(app_name: str, names: list[str]) -> list[Kept]:
    # Call with the lock held: nobody else writes this archive now.
    state = load_state(app_name)
    kept: list[Kept] = []
    for name in names:
        before = state.get(name, 0)
        try:
            written = _write_missing(app_name, name, state)
        except ContainerMissing:
            written = 0  # removed already: the engine has nothing of it to give
        except EngineError as e:
            kept.append(Kept(name, warning=_unreadable(name, e)))
            continue
        finally:
            if state.get(name, 0) != before:
                save_state(app_name, state)  # even part-way: those lines are written
        if written:
            logger.info("Archived the last %d lines of %s (no archiver was running)", written, name)
        kept.append(Kept(name, written))
    return kept


def _write_missing(app_name: str, name: str, state: dict[str, int]) -> int:
    """Append the lines of container `name` after state[name] and move
    state[name] on with each batch written; the number written."""
    secrets = secrets_of(app_name, name)
    started = engine.container_state(name).started_at
    after = state.get(name, 0)
    # At most what the archive can hold: older lines would rotate out at once.
    # follow=False: what was written so far (it ends even if the container runs).
    lines = engine.container_logs_stream(
        name, since=_since(after), tail=max_bytes() // MIN_LINE_BYTES + 1, follow=False
    )
    written = 0
    batch: list[ArchivedLine] = []
    for line, reached in archived_lines(name, started, lines, after, secrets):
        batch.append(line)
        if len(batch) >= BATCH:
            append(app_name, batch)
            written, batch, state[name] = written + len(batch), [], reached
    if batch:
        append(app_name, batch)
        written, state[name] = written + len(batch), reached
    return written


# --- build logs ------------------------------------------------------------------------
