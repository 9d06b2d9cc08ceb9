"""The probe's attacks from another local account (issue 12, findings 4 and
11): reading Berth's database, keys, repositories and logs from the disk, and
nginx workers running as root.

The reader is `nobody`, through setpriv, against files the real code paths
made: `manage.py migrate` and friends in a fresh data folder, and
`manage.py secure_data` over an install laid out the old way."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from apps.engine import debootstrap, recipe
from apps.proxy import nginx
from tests.security_helpers import table_fixture
from tests.test_proxy_nginx import free_port

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534

table = table_fixture("Files: another local account")

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"),
    reason="reads as another user through setpriv, which needs root",
)


def read_as_nobody(path: Path) -> subprocess.CompletedProcess[bytes]:
    """`cat` as nobody; its stderr says why it could not."""
    return subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "cat", str(path)],
        capture_output=True,
        timeout=30,
    )


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A folder any user may search, as /var/lib or a home folder is: the
    data folder's own mode is what must keep others out."""
    parent = Path(tempfile.mkdtemp(prefix="berth-sec-"))
    parent.chmod(0o755)
    yield parent
    shutil.rmtree(parent, ignore_errors=True)


def manage(data: Path, *args: str) -> str:
    env = {**os.environ, "BERTH_DATA_DIR": str(data), "DJANGO_SETTINGS_MODULE": "portal.settings"}
    env.pop("DATABASE_URL", None)  # the embedded SQLite file is what is attacked
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


# What the portal, the worker and the archiver write, through their own code.
MAKE_STATE = """
from types import SimpleNamespace
from django.db import connection
from apps.deployments import gitrepo
from apps.logs import archive
gitrepo.ensure_repo(SimpleNamespace(name="victim", deployment_branch="main"))
archive.append("victim", [archive.ArchivedLine("2026-01-01T00:00:00.000000000Z", "c1", "stdout", "PIN=1")])
with connection.cursor() as cursor:  # keep the WAL file: nothing checkpoints it away
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.execute("CREATE TABLE IF NOT EXISTS probe (x)")
    cursor.execute("INSERT INTO probe VALUES (1)")
import shutil
shutil.copy(connection.settings_dict["NAME"] + "-wal", connection.settings_dict["NAME"] + "-wal.kept")
"""


@needs_root
def test_another_local_user_cannot_read_a_fresh_installs_files(table, open_parent):
    with table.attack("4", "read berth.sqlite3, its WAL, the keys, a git repo and app logs") as row:
        data = open_parent / "data"
        manage(data, "migrate", "--noinput", "-v0")
        manage(data, "shell", "-c", MAKE_STATE)
        targets = [
            data / "berth.sqlite3",
            data / "berth.sqlite3-wal.kept",
            data / "secret_key",
            data / "encryption_key",
            data / "repos" / "victim.git" / "config",
            data / "logs" / "victim" / "app.log",
        ]
        for path in targets:
            assert path.exists(), path
            refused = read_as_nobody(path)
            assert refused.returncode != 0 and b"Permission denied" in refused.stderr, path
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        loose = [
            f"{p.relative_to(data)} {stat.S_IMODE(p.lstat().st_mode):o}"
            for p in data.rglob("*")
            if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & 0o077
        ]
        assert loose == [], loose
        row.outcome = (
            f"refused: Permission denied on all {len(targets)}; the data folder is 0700, "
            "every file and folder in it owner-only"
        )


@needs_root
def test_secure_data_closes_an_older_install(table, open_parent):
    with table.attack("4", "read an older install's database (0644 files in 0755 folders)") as row:
        data = open_parent / "data"
        (data / "repos" / "old.git").mkdir(parents=True)
        (data / "logs" / "old").mkdir(parents=True)
        files = [
            data / "berth.sqlite3",
            data / "berth.sqlite3-wal",
            data / "repos" / "old.git" / "HEAD",
            data / "logs" / "old" / "app.log",
        ]
        for path in files:
            path.write_text("secret\n")
            path.chmod(0o644)
        for folder in (data, data / "repos", data / "repos" / "old.git", data / "logs"):
            folder.chmod(0o755)
        (data / "logs" / "old").chmod(0o755)
        assert read_as_nobody(files[0]).returncode == 0  # the install as the probe found it

        out = manage(data, "secure_data")
        assert "private" in out
        for path in files:
            assert read_as_nobody(path).returncode != 0, path
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert stat.S_IMODE((data / "repos" / "old.git").stat().st_mode) == 0o700
        assert manage(data, "secure_data") == ""  # idempotent: nothing left to change
        row.outcome = (
            "refused: `manage.py secure_data` (run by make run and compose) made it 0600/0700"
        )


# --- nginx -------------------------------------------------------------------

needs_nginx = pytest.mark.skipif(
    not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")),
    reason="needs nginx (scripts/ensure-nginx.sh installs it)",
)


class Sink:
    """An app stand-in that answers a POST with the length it received."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(handler) -> None:  # noqa: N805
                length = int(handler.headers["Content-Length"])
                body = str(len(handler.rfile.read(length))).encode()
                handler.send_response(200)
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args) -> None:  # noqa: N805
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def worker_uids(master: int) -> list[int]:
    uids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            text = status.read_text()
            fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
            if int(fields["PPid"]) == master:
                uids.append(int(fields["Uid"].split()[0]))
    return uids


@pytest.mark.nginx
@needs_nginx
@needs_root
def test_nginx_workers_do_not_run_as_root_and_still_proxy(table, settings, open_parent):
    with table.attack("11", "exploit an nginx worker to act as root") as row:
        data = open_parent / "data"
        data.mkdir(mode=0o700)
        settings.DATA_DIR = data
        settings.BERTH_APPS_DOMAIN = "localhost"
        settings.BERTH_PROXY_MODE = "managed"
        settings.BERTH_PROXY_LISTEN = "127.0.0.1"
        settings.BERTH_PROXY_HTTP_PORT = free_port()
        settings.BERTH_PROXY_HTTPS_PORT = free_port()
        settings.BERTH_PROXY_WORKERS = 2
        settings.BERTH_PROXY_USER = ""
        settings.BERTH_TLS_CERT = settings.BERTH_TLS_KEY = ""
        sink = Sink()
        try:
            nginx.set_route("sink", sink.address)
            master = nginx.master_pid()
            assert master is not None
            uids = worker_uids(master)
            assert uids and 0 not in uids, uids
            # A body bigger than nginx keeps in memory goes through the
            # workers' temp folder inside the private data folder.
            body = b"x" * (2 * 1024 * 1024)
            conn = http.client.HTTPConnection(
                "127.0.0.1", settings.BERTH_PROXY_HTTP_PORT, timeout=10
            )
            conn.request("POST", "/", body=body, headers={"Host": "sink.localhost"})
            answer = conn.getresponse()
            assert (answer.status, answer.read()) == (200, str(len(body)).encode())
            assert stat.S_IMODE(data.stat().st_mode) & 0o007 == 0  # still closed to others
            assert read_as_nobody(nginx.layout().conf).returncode != 0
        finally:
            nginx.stop()
            sink.close()
        row.outcome = (
            f"refused: workers run as uid {sorted(set(uids))}, and still proxy a 2 MB POST"
        )


def test_runtime_images_stay_readable_for_the_apps_user(tmp_path):
    # Berth runs with umask 077 (portal.settings); what goes into a runtime
    # image is for the app's own, unprivileged user in the container.
    umask = os.umask(0o077)
    os.umask(umask)
    assert umask == 0o077
    rootfs = tmp_path / "rootfs"
    debootstrap._stream(
        ["sh", "-c", f"mkdir -p {rootfs}/etc && echo nameserver > {rootfs}/etc/resolv.conf"],
        lambda percent, line: None,
        0,
        lambda line, percent: percent,
    )
    debootstrap._finish_rootfs(rootfs)
    for path in (
        rootfs / "etc",
        rootfs / "etc" / "resolv.conf",
        rootfs / recipe.WORKDIR.lstrip("/"),
        rootfs / "var" / "lib" / "apt" / "lists" / "partial",
    ):
        assert stat.S_IMODE(path.stat().st_mode) & 0o005 == (0o005 if path.is_dir() else 0o004), (
            path
        )
