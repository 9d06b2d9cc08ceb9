"""nginx the program: test a config, swap it in, start, reload and stop
Berth's nginx master, the lock every change holds, and run_foreground for
the proxy container.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

from apps.proxy import config, files, store
from apps.proxy.errors import ProxyError

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "nginx is not installed here: run `apt-get install nginx-light` as root "
    "(scripts/ensure-nginx.sh does it), or set BERTH_NGINX to the nginx binary."
)


# --- nginx the program -------------------------------------------------------


def nginx_binary() -> str:
    wanted = settings.BERTH_NGINX
    # /usr/sbin is not on a non-root user's PATH on Debian.
    found = shutil.which(wanted) or shutil.which(wanted, path="/usr/sbin:/usr/local/sbin:/sbin")
    if not found:
        raise ProxyError(INSTALL_HINT)
    return found


def _nginx(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    lay = files.layout()
    command = [nginx_binary(), "-p", f"{lay.prefix}/", "-e", str(lay.error_log), *args]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as e:
        raise ProxyError(INSTALL_HINT) from e
    except subprocess.TimeoutExpired as e:
        raise ProxyError(f"`{' '.join(command)}` did not finish in {timeout:.0f} s.") from e


def _explain(output: str) -> str:
    """nginx's own words, plus what to do about the usual ones."""
    text = output.strip()
    if "Address already in use" in text:
        text += (
            "\nAnother program holds the proxy's port: stop it, or choose others with "
            "BERTH_PROXY_HTTP_PORT / BERTH_PROXY_HTTPS_PORT."
        )
    elif "bind()" in text and "Permission denied" in text:
        text += "\nPorts below 1024 need root: use ports above 1024 (8080/8443 by default)."
    return text


def test_config(path: Path) -> None:
    """`nginx -t` on a config file; ProxyError with nginx's words if it fails."""
    result = _nginx("-t", "-q", "-c", str(path))
    if result.returncode != 0:
        raise ProxyError(
            "The new proxy configuration was refused by `nginx -t`, so the one in use "
            f"stays:\n{_explain(result.stderr or result.stdout)}"
        )


def install_config(text: str) -> bool:
    """Test text as a candidate, then swap it in. False when nothing changed."""
    lay = files.layout()
    if lay.conf.exists() and lay.conf.read_text() == text:
        return False
    candidate = lay.prefix / f"nginx.conf.candidate.{os.getpid()}"
    candidate.write_text(text)
    try:
        test_config(candidate)
        with open(candidate) as f:
            os.fsync(f.fileno())
        os.replace(candidate, lay.conf)
    finally:
        candidate.unlink(missing_ok=True)
    return True


def config_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _mark_applied(text: str) -> None:
    files.write_atomic(
        files.layout().applied,
        json.dumps({"sha256": config_hash(text), "applied_at": time.time()}),
    )


def applied_hash() -> str:
    try:
        return json.loads(files.layout().applied.read_text()).get("sha256", "")
    except (OSError, ValueError):
        return ""


# --- the nginx process -------------------------------------------------------


def _proc_state(pid: int) -> str | None:
    """The process's state letter, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: the fields after
    # the last ')' are fixed.
    return stat.rsplit(")", 1)[1].split()[0]


def _alive(pid: int) -> bool:
    state = _proc_state(pid)
    if state is None:
        return False
    return state not in ("Z", "X")  # a zombie has exited already


def master_pid() -> int | None:
    """The pid of Berth's nginx master when it runs, else None."""
    try:
        pid = int(files.layout().pid.read_text().strip())
    except (OSError, ValueError):
        return None
    if not _alive(pid):
        return None
    try:
        if b"nginx" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return None  # a stale pid file, and the number went to someone else
    except OSError:
        return None
    return pid


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.add(int(stat.parent.name))
    return found


def _serving(workers: set[int]) -> set[int]:
    """The workers still taking new connections.

    A worker told to finish renames itself "worker process is shutting down"
    as it closes its listening sockets; until then it may still take a new
    connection under the old config.
    """
    serving = set()
    for worker in workers:
        try:
            title = Path(f"/proc/{worker}/cmdline").read_bytes()
        except OSError:
            continue
        if _alive(worker) and b"shutting down" not in title:
            serving.add(worker)
    return serving


def _log_since(offset: int) -> str:
    try:
        with open(files.layout().error_log, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _log_size() -> int:
    try:
        return files.layout().error_log.stat().st_size
    except OSError:
        return 0


def start_nginx() -> int:
    lay = files.layout()
    result = _nginx("-c", str(lay.conf))
    if result.returncode != 0:
        raise ProxyError(f"nginx did not start:\n{_explain(result.stderr or result.stdout)}")
    # nginx forks its master and returns; the pid file follows within moments.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if pid := master_pid():
            logger.info("Started the proxy (nginx master %s)", pid)
            _mark_applied(lay.conf.read_text())
            return pid
        time.sleep(0.02)
    raise ProxyError(f"nginx started but wrote no pid file; see {lay.error_log}")


def reload_nginx(pid: int, text: str, timeout: float = 10) -> float:
    """Signal a graceful reload and wait until only new workers take connections.

    Returns the seconds it took. Old workers finish the requests they hold
    (keep the old upstream up a few seconds more); new connections go to the
    new workers.
    """
    before, offset = _children(pid), _log_size()
    started = time.monotonic()
    # What `nginx -s reload` does, without parsing the config again: it was
    # just tested.
    os.kill(pid, signal.SIGHUP)
    while time.monotonic() - started < timeout:
        log = _log_since(offset)
        if "[emerg]" in log or "[alert]" in log:
            raise ProxyError(
                "nginx kept its previous configuration: the reload failed:\n" + _explain(log)
            )
        if _children(pid) - before and not _serving(before):
            _mark_applied(text)
            return time.monotonic() - started
        time.sleep(0.01)
    raise ProxyError(
        f"nginx did not switch to new workers within {timeout:.0f} s of a reload; "
        f"see {files.layout().error_log}"
    )


def stop_nginx(timeout: float = 10) -> bool:
    pid = master_pid()
    if pid is None:
        files.layout().pid.unlink(missing_ok=True)
        return False
    # SIGQUIT is nginx's graceful shutdown: requests in flight are finished.
    for sig, wait in ((signal.SIGQUIT, timeout), (signal.SIGTERM, 3), (signal.SIGKILL, 3)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                files.layout().pid.unlink(missing_ok=True)
                logger.info("Stopped the proxy (nginx master %s)", pid)
                return True
            time.sleep(0.02)
    raise ProxyError(f"nginx master {pid} did not stop, even with SIGKILL.")


@contextlib.contextmanager
def locked(timeout: float | None = None) -> Iterator[None]:
    """One change to the proxy at a time, across processes (fcntl.flock)."""
    lay = files.layout()
    lay.prefix.mkdir(parents=True, exist_ok=True)
    if timeout is None:
        timeout = float(settings.BERTH_PROXY_LOCK_TIMEOUT)
    fd = os.open(lay.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ProxyError(
                        f"Another change to the proxy held its lock ({lay.lock}) for more "
                        f"than {timeout:.0f} s; try again, or look for a stuck deploy."
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


# --- the proxy container (compose.yaml) ----------------------------------------


def _wait_for_workers(process: subprocess.Popen, timeout: float = 10) -> None:
    """Wait until the nginx master `process` has forked its workers.

    The master binds every listening socket before it forks a worker, so a
    worker means the proxy accepts connections.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ProxyError(
                f"nginx exited ({process.returncode}) before it took connections; "
                f"see {files.layout().error_log}"
            )
        if _children(process.pid):
            return
        time.sleep(0.02)
    raise ProxyError(
        f"nginx started no workers within {timeout:.0f} s; see {files.layout().error_log}"
    )


def run_foreground(poll: float = 1.0) -> int:
    """Run nginx in the foreground and apply configs other processes write.

    For the proxy container: the web and worker containers run with
    BERTH_PROXY_MODE=external, write the tested config into the shared data
    volume and wait for applied.json to name it.
    """
    lay = files.layout()
    with locked():
        files.prepare(lay)
        if lay.conf.exists():
            test_config(lay.conf)  # writers tested it; settings may differ here
        else:
            install_config(
                config.render_config(store.routes(), cert=config.certificate(list(store.routes())))
            )
    command = [nginx_binary(), "-p", f"{lay.prefix}/", "-e", str(lay.error_log)]
    command += ["-c", str(lay.conf), "-g", "daemon off;"]
    process = subprocess.Popen(command)
    stopping = False

    def _graceful(signum, frame) -> None:
        nonlocal stopping
        stopping = True
        process.send_signal(signal.SIGQUIT)

    signal.signal(signal.SIGTERM, _graceful)
    signal.signal(signal.SIGINT, _graceful)
    # Say the config is applied only once nginx takes connections: writers
    # waiting on applied.json route traffic the moment it names their config.
    _wait_for_workers(process)
    _mark_applied(lay.conf.read_text())
    logger.info("The proxy runs (nginx %s); watching %s", process.pid, lay.conf)
    refused = ""  # say once, not every second, that a config was refused
    while process.poll() is None:
        time.sleep(poll)
        if stopping:
            continue
        try:
            current = lay.conf.read_text()
        except OSError:
            continue
        digest = config_hash(current)
        if digest not in (applied_hash(), refused):
            try:
                test_config(lay.conf)
                reload_nginx(process.pid, current)
                logger.info("Applied the new proxy config")
            except ProxyError as e:
                refused = digest
                logger.error("%s", e.message)
    return process.returncode or 0
