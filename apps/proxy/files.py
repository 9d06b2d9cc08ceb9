"""Where the front proxy keeps its files (all under DATA_DIR/proxy), and
which account nginx's workers run as so they can reach them.
"""

from __future__ import annotations

import logging
import os
import pwd
from dataclasses import dataclass
from pathlib import Path
from stat import S_IMODE, S_IXGRP, S_IXOTH, S_IXUSR

from django.conf import settings

logger = logging.getLogger(__name__)


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


def prepare(lay: Layout) -> None:
    for path in (lay.prefix, lay.routes_dir, lay.logs, lay.temp):
        path.mkdir(parents=True, exist_ok=True)
    user = worker_user()
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


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# Accounts nginx's workers run as when the master is root: the first that exists.
WORKER_USERS = ("www-data", "nginx", "nobody")


def worker_user() -> str | None:
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
