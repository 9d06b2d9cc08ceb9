"""Berth's front proxy: its own nginx master with one server block per app.

`<name>.<BERTH_APPS_DOMAIN>` goes to the app's upstream ("127.0.0.1:PORT",
published by the app's container), over HTTP and HTTPS. The deploy pipeline
calls the plain functions at the bottom: set_route, remove_route, routes,
ensure_running, reload, stop, status.

Every change follows one path: render the whole config from the routes, test
it with `nginx -t` as a candidate file, and only then swap it in atomically and
reload nginx, all under a lock so concurrent deploys don't interleave. A bad
config never replaces the good one, and a reload is graceful: nginx's old
workers finish their requests while new ones take new connections, which is
how a release swaps upstreams without dropping a request.

Everything lives under DATA_DIR/proxy (config, routes, pid, logs, temp, TLS),
so the same code runs as root or not, beside the system's nginx if any.

BERTH_PROXY_MODE=external (compose.yaml's proxy service): this process only
writes the routes and the tested config; `manage.py proxy run` in the proxy
container owns nginx, sees the new config and reloads it, and records what it
applied in applied.json, which set_route waits for.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import pwd
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_IMODE, S_IXGRP, S_IXOTH, S_IXUSR

from django.conf import settings
from django.template.loader import render_to_string

from apps.proxy import certs
from apps.proxy.errors import ProxyError

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "nginx is not installed here: run `apt-get install nginx-light` as root "
    "(scripts/ensure-nginx.sh does it), or set BERTH_NGINX to the nginx binary."
)
# A route's name: an app name (a DNS label). The same rule as
# apps.webapps.validators.APP_NAME_RE, kept here so the proxy knows no app model.
APP_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")
# "127.0.0.1:8001", "app-container:8000", "[::1]:8001"
UPSTREAM_RE = re.compile(
    r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$"
)
HTTPS_ONLY_FILE = "https-only.json"  # beside the routes folder, under the prefix
DOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$")
# The only nginx variables the pages may use; any other `$` would be a bug.
PAGE_VARIABLES = ("$berth_no_app",)


@dataclass(frozen=True)
class Layout:
    """Where the proxy keeps its files: all under one prefix."""

    prefix: Path

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def routes_dir(self) -> Path:
        return self.prefix / "routes"

    @property
    def pid(self) -> Path:
        return self.prefix / "nginx.pid"

    @property
    def logs(self) -> Path:
        return self.prefix / "logs"

    @property
    def error_log(self) -> Path:
        return self.logs / "error.log"

    @property
    def temp(self) -> Path:
        return self.prefix / "temp"

    @property
    def tls(self) -> Path:
        return self.prefix / "tls"

    @property
    def lock(self) -> Path:
        return self.prefix / "proxy.lock"

    @property
    def applied(self) -> Path:
        return self.prefix / "applied.json"


def layout() -> Layout:
    return Layout(Path(settings.DATA_DIR) / "proxy")


def _prepare(lay: Layout) -> None:
    for path in (lay.prefix, lay.routes_dir, lay.logs, lay.temp):
        path.mkdir(parents=True, exist_ok=True)
    user = _worker_user()
    if user and user != "root":
        # Workers write request bodies and big responses here.
        entry = pwd.getpwnam(user)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (lay.temp / sub).mkdir(exist_ok=True)
            os.chown(lay.temp / sub, entry.pw_uid, entry.pw_gid)
        _let_workers_through(lay, entry)


def _let_workers_through(lay: Layout, entry: pwd.struct_passwd) -> None:
    """The data folder is 0700 (apps.core.datadir): the workers' group may
    pass through it, the proxy folder and temp/ to their own temp folders,
    and no further (0710: search, no listing; every file in them is 0600)."""
    for folder in (Path(settings.DATA_DIR), lay.prefix, lay.temp):
        st = folder.stat()
        if st.st_uid == entry.pw_uid:
            continue
        if st.st_gid != entry.pw_gid:
            os.chown(folder, -1, entry.pw_gid)
        folder.chmod(S_IMODE(st.st_mode) & 0o700 | 0o010)


def _reachable_by(path: Path, entry: pwd.struct_passwd) -> bool:
    """Whether every folder above `path` lets this account search it (the
    data folder itself and below are _let_workers_through's business)."""
    for folder in path.parents:
        st = folder.stat()
        if st.st_uid == entry.pw_uid:
            allowed = st.st_mode & S_IXUSR
        elif st.st_gid == entry.pw_gid:
            allowed = st.st_mode & S_IXGRP
        else:
            allowed = st.st_mode & S_IXOTH
        if not allowed:
            return False
    return True


def _write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# --- checks ------------------------------------------------------------------


def check_name(name: str) -> str:
    if not isinstance(name, str) or not APP_NAME_RE.match(name):
        raise ProxyError(
            f"{name!r} cannot be routed: an app name is lowercase letters, digits and "
            "hyphens (it becomes the host name <name>.<apps domain>)."
        )
    return name


def check_upstream(upstream: str) -> str:
    match = UPSTREAM_RE.match(upstream) if isinstance(upstream, str) else None
    if not match or not 0 < int(match.group(1)) < 65536:
        raise ProxyError(
            f"{upstream!r} is not an upstream the proxy can use: give host:port, "
            "e.g. 127.0.0.1:32768 as published by the app's container."
        )
    return upstream


def _domain() -> str:
    domain = str(settings.BERTH_APPS_DOMAIN).strip().lower().rstrip(".")
    if not DOMAIN_RE.match(domain):
        raise ProxyError(
            f"BERTH_APPS_DOMAIN={domain!r} is not a domain name: use e.g. localhost "
            "or apps.example.com."
        )
    return domain


# --- rendering ---------------------------------------------------------------


def _nginx_string(text: str, variables: tuple[str, ...] = ()) -> str:
    """Quote text for nginx, where `$name` would be read as a variable."""
    for dollar in re.finditer(r"\$\w*", text):
        if dollar.group() not in variables:
            raise ValueError(f"{dollar.group()!r} in a proxy page would be an nginx variable")
    text = "\n".join(line.strip() for line in text.strip().splitlines())
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _checked(name: str, default: str, pattern: str) -> str:
    """A setting that goes into the config as is: refuse anything unexpected."""
    # Every name passed here is declared in portal/settings.py.
    value = str(getattr(settings, name)).strip()
    if not re.fullmatch(pattern, value):
        raise ProxyError(f"{name}={value!r} is not valid here (expected e.g. {default}).")
    return value


def _listen_address() -> str:
    listen = _checked("BERTH_PROXY_LISTEN", "127.0.0.1", r"[0-9A-Fa-f.:\[\]]+|\*")
    return f"[{listen}]" if ":" in listen and not listen.startswith("[") else listen


# Accounts nginx's workers run as when the master is root: the first that exists.
WORKER_USERS = ("www-data", "nginx", "nobody")


def _worker_user() -> str | None:
    """The `user` nginx's workers run as; only a root master switches users.

    BERTH_PROXY_USER if set; else the data folder's owner when that is not
    root; else an unprivileged account (WORKER_USERS). The master reads the
    config and the TLS key as root; the workers need only their temp folders.
    Root is the last resort, when a folder above the data folder shuts the
    workers out (e.g. a data folder under /root): said in the log.
    """
    if os.geteuid() != 0:
        return None
    if user := settings.BERTH_PROXY_USER:
        return user
    data = Path(settings.DATA_DIR)
    try:
        owner = pwd.getpwuid(data.stat().st_uid).pw_name
    except (KeyError, OSError):
        owner = "root"
    if owner != "root":
        return owner
    for name in WORKER_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if _reachable_by(data, entry):
            return name
        logger.warning(
            "nginx's workers run as root: %s cannot reach %s (a folder above it is closed); "
            "set BERTH_PROXY_USER or move BERTH_DATA_DIR",
            name,
            data,
        )
        return "root"
    return "root"


def render_config(
    route_map: dict[str, str], *, cert: certs.Certificate, https_only: frozenset[str] = frozenset()
) -> str:
    """The whole nginx.conf for these routes ({app name: upstream}); the apps
    in `https_only` answer plain HTTP with a 301 to their HTTPS address."""
    lay = layout()
    domain = _domain()
    https_port = int(settings.BERTH_PROXY_HTTPS_PORT)
    routes = []
    for name, upstream in sorted(route_map.items()):
        check_name(name)
        check_upstream(upstream)
        page = {"name": name, "domain": domain}
        routes.append(
            {
                "name": name,
                "host": f"{name}.{domain}",
                "upstream": upstream,
                "https_only": name in https_only,
                "down_page": _nginx_string(
                    render_to_string(
                        "proxy/app_unavailable.html",
                        {
                            **page,
                            "title": f"{name} is not running",
                            "reason": f"The app {name} did not answer: it is stopped, "
                            "starting, or has crashed.",
                        },
                    )
                ),
                "timeout_page": _nginx_string(
                    render_to_string(
                        "proxy/app_unavailable.html",
                        {
                            **page,
                            "title": f"{name} took too long to answer",
                            "reason": f"The app {name} is running but did not answer in time.",
                        },
                    )
                ),
            }
        )
    return render_to_string(
        "proxy/nginx.conf",
        {
            "prefix": lay.prefix,
            "conf": lay.conf,
            "routes_dir": lay.routes_dir,
            "pid": lay.pid,
            "logs": lay.logs,
            "temp": lay.temp,
            "user": _worker_user(),
            "worker_processes": _checked("BERTH_PROXY_WORKERS", "auto", r"auto|[1-9]\d{0,2}"),
            "listen": _listen_address(),
            "http_port": int(settings.BERTH_PROXY_HTTP_PORT),
            "https_port": https_port,
            # What a 301 to HTTPS appends to $host (nothing on 443).
            "https_port_suffix": "" if https_port == 443 else f":{https_port}",
            "client_max_body_size": _checked("BERTH_PROXY_MAX_BODY", "100m", r"\d{1,9}[kKmMgG]?"),
            "cert": cert.cert,
            "key": cert.key,
            # Quoted in the config, where a backslash is nginx's escape: dots as [.]
            "domain_regex": domain.replace(".", "[.]"),
            "no_such_app_page": _nginx_string(
                render_to_string("proxy/no_such_app.html", {"domain": domain}), PAGE_VARIABLES
            ),
            "routes": routes,
        },
    )


def certificate(route_names: list[str] | tuple[str, ...] = ()) -> certs.Certificate:
    """The configured certificate, or the self-signed one (made if needed)."""
    cert, key = settings.BERTH_TLS_CERT, settings.BERTH_TLS_KEY
    if cert or key:
        if not (cert and key):
            raise ProxyError("Set both BERTH_TLS_CERT and BERTH_TLS_KEY, or neither.")
        return certs.configured(cert, key)
    return certs.make_self_signed(layout().tls, _domain(), route_names)


# --- nginx the program -------------------------------------------------------


def nginx_binary() -> str:
    wanted = settings.BERTH_NGINX
    # /usr/sbin is not on a non-root user's PATH on Debian.
    found = shutil.which(wanted) or shutil.which(wanted, path="/usr/sbin:/usr/local/sbin:/sbin")
    if not found:
        raise ProxyError(INSTALL_HINT)
    return found


def _nginx(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    lay = layout()
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


def _install_config(text: str) -> bool:
    """Test text as a candidate, then swap it in. False when nothing changed."""
    lay = layout()
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


def _config_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _mark_applied(text: str) -> None:
    _write_atomic(
        layout().applied,
        json.dumps({"sha256": _config_hash(text), "applied_at": time.time()}),
    )


def _applied_hash() -> str:
    try:
        return json.loads(layout().applied.read_text()).get("sha256", "")
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
        pid = int(layout().pid.read_text().strip())
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
        with open(layout().error_log, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _log_size() -> int:
    try:
        return layout().error_log.stat().st_size
    except OSError:
        return 0


def _start() -> int:
    lay = layout()
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


def _reload(pid: int, text: str, timeout: float = 10) -> float:
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
        f"see {layout().error_log}"
    )


def _stop(timeout: float = 10) -> bool:
    pid = master_pid()
    if pid is None:
        layout().pid.unlink(missing_ok=True)
        return False
    # SIGQUIT is nginx's graceful shutdown: requests in flight are finished.
    for sig, wait in ((signal.SIGQUIT, timeout), (signal.SIGTERM, 3), (signal.SIGKILL, 3)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                layout().pid.unlink(missing_ok=True)
                logger.info("Stopped the proxy (nginx master %s)", pid)
                return True
            time.sleep(0.02)
    raise ProxyError(f"nginx master {pid} did not stop, even with SIGKILL.")


@contextlib.contextmanager
def locked(timeout: float | None = None) -> Iterator[None]:
    """One change to the proxy at a time, across processes (fcntl.flock)."""
    lay = layout()
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


# --- routes ------------------------------------------------------------------


def routes() -> dict[str, str]:
    """The routes Berth keeps: {app name: upstream}."""
    found: dict[str, str] = {}
    directory = layout().routes_dir
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            found[check_name(data["name"])] = check_upstream(data["upstream"])
        except (OSError, ValueError, KeyError, TypeError, ProxyError) as e:
            logger.warning("Skipping the unreadable route %s: %s", path, e)
    return found


def _mode() -> str:
    mode = str(settings.BERTH_PROXY_MODE).lower()
    if mode not in ("managed", "external"):
        raise ProxyError(f"BERTH_PROXY_MODE={mode!r}: use managed or external.")
    return mode


def _wait_external(text: str) -> None:
    """Wait until the proxy service applied this config, or a newer one."""
    timeout = float(settings.BERTH_PROXY_APPLY_TIMEOUT)
    deadline = time.monotonic() + timeout
    mine = _config_hash(text)
    while time.monotonic() < deadline:
        applied = _applied_hash()
        if applied == mine:
            return
        # A later change rewrote the config from the saved routes, ours too.
        try:
            current = _config_hash(layout().conf.read_text())
        except OSError:
            current = ""
        if current != mine and applied == current:
            return
        time.sleep(0.1)
    raise ProxyError(
        f"The routes are saved, but the proxy service did not apply them within {timeout:.0f} s: "
        "is it running (`docker compose ps proxy`)? It applies them when it starts."
    )


def _apply(
    new_routes: dict[str, str],
    *,
    save: Callable[[], object] | None = None,
    force_reload: bool = False,
    start: bool = True,
) -> str | None:
    """Render, test, swap, save, reload. Called with the lock held.

    Returns the config text when the proxy service (external mode) still has
    to apply it; the caller waits for that without holding the lock.
    """
    _prepare(layout())
    text = render_config(
        new_routes, cert=certificate(list(new_routes)), https_only=frozenset(https_only_apps())
    )
    changed = _install_config(text)
    # Saved only once nginx accepted the config: a refused route is never kept.
    if save is not None:
        save()
    if _mode() == "external":
        return text
    pid = master_pid()
    if pid is None:
        if start:
            _start()
    elif changed or force_reload or _applied_hash() != _config_hash(text):
        seconds = _reload(pid, text)
        logger.info("Reloaded the proxy in %.0f ms", seconds * 1000)
    return None


def _change(**kwargs) -> None:
    with locked():
        # Read under the lock: routes saved by a concurrent deploy are kept.
        pending = _apply(routes(), **kwargs)
    if pending is not None:
        _wait_external(pending)


def _save_route(name: str, upstream: str) -> None:
    _write_atomic(
        layout().routes_dir / f"{name}.json",
        json.dumps({"name": name, "upstream": upstream, "updated_at": time.time()}),
    )


def set_route(app_name: str, upstream: str) -> None:
    """Send <app_name>.<apps domain> to upstream ("127.0.0.1:PORT").

    Returns once only nginx workers with the new route take new connections,
    so the caller may then stop the old container (after a few seconds'
    grace for requests the old workers still hold).
    """
    check_name(app_name)
    check_upstream(upstream)
    with locked():
        pending = _apply(
            {**routes(), app_name: upstream}, save=lambda: _save_route(app_name, upstream)
        )
    if pending is not None:
        _wait_external(pending)


def https_only_apps() -> set[str]:
    """The apps whose plain HTTP is redirected to HTTPS (App Service's
    httpsOnly). Kept apart from the routes: a stopped app keeps its choice."""
    try:
        names = json.loads((layout().prefix / HTTPS_ONLY_FILE).read_text())
    except FileNotFoundError:
        return set()
    except (OSError, ValueError) as e:
        logger.warning("Ignoring the unreadable %s: %s", HTTPS_ONLY_FILE, e)
        return set()
    return {n for n in names if isinstance(n, str) and APP_NAME_RE.match(n)}


def set_https_only(app_name: str, on: bool) -> None:
    """Redirect the app's plain HTTP to HTTPS (301), or stop doing so."""
    check_name(app_name)
    with locked():
        current = https_only_apps()
        wanted = current | {app_name} if on else current - {app_name}
        if wanted == current:
            return
        path = layout().prefix / HTTPS_ONLY_FILE
        _prepare(layout())
        # Written before the render (which reads it), put back if nginx refuses.
        previous = path.read_text() if path.exists() else None
        _write_atomic(path, json.dumps(sorted(wanted)))
        try:
            pending = _apply(routes(), start=False)
        except Exception:
            if previous is None:
                path.unlink(missing_ok=True)
            else:
                _write_atomic(path, previous)
            raise
    if pending is not None:
        _wait_external(pending)


def remove_route(app_name: str) -> None:
    """Stop routing the app; its host name then gets the "no app" page."""
    check_name(app_name)
    with locked():
        current = routes()
        if app_name not in current:
            return
        del current[app_name]
        path = layout().routes_dir / f"{app_name}.json"
        pending = _apply(current, save=lambda: path.unlink(missing_ok=True), start=False)
    if pending is not None:
        _wait_external(pending)


def ensure_running() -> None:
    """Start the proxy with the current routes, or bring it up to date."""
    _change()


def reload() -> None:
    """Re-render from the routes and settings, test, and reload (or start)."""
    _change(force_reload=True)


def stop() -> bool:
    """Stop Berth's nginx gracefully. False when it was not running."""
    if _mode() == "external":
        return False
    with locked():
        return _stop()


@dataclass(frozen=True)
class ProxyStatus:
    mode: str
    running: bool
    pid: int | None
    http_port: int
    https_port: int
    listen: str
    domain: str
    routes: dict[str, str] = field(default_factory=dict)
    config: str = ""
    certificate: str = ""
    message: str = ""

    @property
    def url(self) -> str:
        return app_url("<app>")


def app_url(app_name: str, https: bool = False) -> str:
    """The address of an app through the proxy, as a browser would type it."""
    if https:
        port, scheme, default = int(settings.BERTH_PROXY_HTTPS_PORT), "https", 443
    else:
        port, scheme, default = int(settings.BERTH_PROXY_HTTP_PORT), "http", 80
    suffix = "" if port == default else f":{port}"
    return f"{scheme}://{app_name}.{_domain()}{suffix}/"


def status() -> ProxyStatus:
    """What the proxy is doing, for the portal and `manage.py proxy status`. Never raises."""
    lay = layout()
    try:
        mode, domain = _mode(), _domain()
    except ProxyError as e:
        mode, domain, message = "?", str(settings.BERTH_APPS_DOMAIN), e.message
    else:
        message = ""
    pid = master_pid() if mode == "managed" else None
    running = pid is not None
    if mode == "external":
        current = lay.conf.read_text() if lay.conf.exists() else ""
        running = bool(current) and _applied_hash() == _config_hash(current)
        message = message or (
            "The proxy service applied the current config."
            if running
            else "The proxy service has not applied the current config (is it running?)."
        )
    elif not message:
        try:
            nginx_binary()
        except ProxyError as e:
            message = e.message
        else:
            message = "running" if running else "stopped"
    cert = settings.BERTH_TLS_CERT or str(lay.tls / "cert.pem")
    return ProxyStatus(
        mode=mode,
        running=running,
        pid=pid,
        http_port=int(settings.BERTH_PROXY_HTTP_PORT),
        https_port=int(settings.BERTH_PROXY_HTTPS_PORT),
        listen=str(settings.BERTH_PROXY_LISTEN),
        domain=domain,
        routes=routes(),
        config=str(lay.conf),
        certificate=cert,
        message=message,
    )


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
                f"see {layout().error_log}"
            )
        if _children(process.pid):
            return
        time.sleep(0.02)
    raise ProxyError(f"nginx started no workers within {timeout:.0f} s; see {layout().error_log}")


def run_foreground(poll: float = 1.0) -> int:
    """Run nginx in the foreground and apply configs other processes write.

    For the proxy container: the web and worker containers run with
    BERTH_PROXY_MODE=external, write the tested config into the shared data
    volume and wait for applied.json to name it.
    """
    lay = layout()
    with locked():
        _prepare(lay)
        if lay.conf.exists():
            test_config(lay.conf)  # writers tested it; settings may differ here
        else:
            _install_config(render_config(routes(), cert=certificate(list(routes()))))
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
        digest = _config_hash(current)
        if digest not in (_applied_hash(), refused):
            try:
                test_config(lay.conf)
                _reload(process.pid, current)
                logger.info("Applied the new proxy config")
            except ProxyError as e:
                refused = digest
                logger.error("%s", e.message)
    return process.returncode or 0
