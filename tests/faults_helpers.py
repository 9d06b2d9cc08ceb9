"""Helpers for the fault and bad-input suite (tests/test_faults*.py): the
table of cases it prints, bad zips, snapshots to compare before/after, and a
portal + worker + proxy "stack" run as real subprocesses on one temporary
data folder (its own SQLite file in WAL mode, its own file broker)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy_helpers import make_zip, symlink

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
NONE = "none"


# ---- the table -----------------------------------------------------------


@contextlib.contextmanager
def timed(row, failed: str) -> Iterator:
    """Yield `row`; on the way out set its `seconds`, and on an exception
    its `outcome` to `failed` and the exception's first line."""
    started = time.monotonic()
    try:
        yield row
    except BaseException as e:
        last = traceback.format_exception_only(type(e), e)[-1].strip().splitlines()[0]
        row.outcome = f"{failed}: {last[:120]}"
        raise
    finally:
        row.seconds = time.monotonic() - started


@dataclass
class Row:
    case: str
    outcome: str = "did not finish"
    lost: str = "not checked (the case failed)"
    seconds: float = 0.0


@dataclass
class FaultTable:
    """Rows of (case, outcome, data lost). A case says what it checked with
    `row.outcome = ...` and `row.lost = NONE` once it has asserted that."""

    title: str
    rows: list[Row] = field(default_factory=list)

    def case(self, name: str) -> contextlib.AbstractContextManager[Row]:
        row = Row(name)
        self.rows.append(row)
        return timed(row, "FAILED")

    def markdown(self) -> str:
        lines = [
            f"### {self.title}",
            "",
            "| case | outcome | data lost | time |",
            "|---|---|---|---|",
        ]
        for r in self.rows:
            outcome = r.outcome.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {r.case} | {outcome} | {r.lost} | {r.seconds:.1f} s |")
        return "\n".join(lines) + "\n"

    def finish(self, config=None) -> None:
        """Print the table to the terminal (past pytest's capture) and merge
        it into test-artifacts/fault-table.md, one section per module and
        database, so both modules and both passes end up in one file."""
        text = self.markdown()
        # pytest captures file descriptors 1 and 2 while fixtures tear down:
        # lift its capture for the moment of printing (what capsys.disabled() does).
        capture = config.pluginmanager.get_plugin("capturemanager") if config else None
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            sys.stdout.write("\n\n" + text + "\n")
            sys.stdout.flush()
        ARTIFACTS.mkdir(exist_ok=True)
        store = ARTIFACTS / "fault-table.json"
        try:
            sections = json.loads(store.read_text())
        except (OSError, ValueError):
            sections = {}
        sections[self.title] = text
        store.write_text(json.dumps(sections, indent=1))
        (ARTIFACTS / "fault-table.md").write_text(
            "# Fault and bad-input suite\n\n" + "\n".join(sections[k] for k in sorted(sections))
        )


def db_label() -> str:
    from django.db import connection

    return connection.vendor


# ---- bad zips ------------------------------------------------------------


def bad_uploads() -> dict[str, tuple[bytes, str]]:
    """Case -> (body, what the error message must say), for
    BERTH_MAX_ZIP_MB=1 and BERTH_MAX_UNZIPPED_MB=5."""
    bomb = make_zip([("zeros.bin", b"\0" * (12 * 1024 * 1024))])
    assert len(bomb) < 100 * 1024  # 12 MB in a few kB
    return {
        "zip slip (../)": (
            make_zip([("app.py", b"x"), ("../../evil.py", b"x")]),
            "outside the app's folder",
        ),
        "absolute path": (make_zip([("/etc/cron.d/evil", b"x")]), "is an absolute path"),
        "symlink escape": (
            make_zip([("app.py", b"x"), symlink("static/passwd", "../../../etc/passwd")]),
            "symbolic link",
        ),
        "absolute symlink": (
            make_zip([("app.py", b"x"), symlink("root", "/")]),
            "symbolic link",
        ),
        "zip bomb": (bomb, "5 MB"),
        "oversized": (make_zip([("big.bin", os.urandom(2 * 1024 * 1024))]), "BERTH_MAX_ZIP_MB"),
        "not a zip": (b"#!/bin/sh\nrm -rf /\n", "not a zip file"),
        "empty body": (b"", "empty"),
    }


# ---- snapshots -----------------------------------------------------------


def app_snapshot(app) -> dict:
    """Everything a user could lose or have changed behind their back."""
    from apps.deployments.models import Deployment
    from apps.webapps.models import AppSetting, ConnectionString, WebApp

    fresh = WebApp.objects.get(pk=app.pk)
    return {
        "settings": dict(AppSetting.objects.filter(app=app).values_list("name", "value")),
        "strings": dict(ConnectionString.objects.filter(app=app).values_list("name", "value")),
        "deployments": list(
            Deployment.objects.filter(app=app).order_by("pk").values_list("pk", "status", "active")
        ),
        "state": fresh.state,
        "linux_fx_version": fresh.linux_fx_version,
        "app_command_line": fresh.app_command_line,
        "publishing_password": fresh.publishing_password,
    }


# ---- processes -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float, what: str, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def dockerd_pid() -> int | None:
    out = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def docker_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


def restart_dockerd(timeout: float = 60) -> None:
    """SIGTERM dockerd, wait for it to go, start it again as
    scripts/ensure-docker.sh does, and wait until it answers."""
    pid = dockerd_pid()
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: dockerd_pid() is None, timeout, "dockerd to stop", 0.2)
    ensure_dockerd(timeout)


def ensure_dockerd(timeout: float = 60) -> None:
    if docker_answers():
        return
    if dockerd_pid() is None:
        log_dir = Path("/var/log/berth")
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / "dockerd.log", "ab") as log:
            subprocess.Popen(
                ["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
    wait_for(docker_answers, timeout, "dockerd to answer", 0.5)


class Stack:
    """Portal (uvicorn), Celery worker and the managed nginx as the README
    runs them, on one data folder. Deployments, settings and the lock are
    shared through that folder's SQLite file and locks/, as in production."""

    def __init__(self, data_dir: Path, *, http_port: int, https_port: int) -> None:
        self.data_dir = data_dir
        self.http_port = http_port
        self.portal_port = free_port()
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL")
        }
        self.env.update(
            BERTH_DATA_DIR=str(data_dir),
            DJANGO_SETTINGS_MODULE="portal.settings",
            DEBUG="False",
            BERTH_PROXY_ROUTING="true",
            BERTH_APPS_DOMAIN="localhost",
            BERTH_PROXY_MODE="managed",
            BERTH_PROXY_LISTEN="127.0.0.1",
            BERTH_PROXY_HTTP_PORT=str(http_port),
            BERTH_PROXY_HTTPS_PORT=str(https_port),
            BERTH_PROXY_WORKERS="1",
            BERTH_START_TIME_LIMIT="40",
            BERTH_BUILD_TIMEOUT="120",
        )
        self.portal: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.portal_port}"

    def manage(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def shell(self, code: str, timeout: float = 180) -> dict:
        """Run `code` in the stack's Django; it sets `out` (JSON) to answer."""
        script = "import json\nout = None\n" + code + "\nprint('OUT=' + json.dumps(out))\n"
        text = self.manage("shell", "-c", script, timeout=timeout)
        line = next(ln for ln in text.splitlines() if ln.startswith("OUT="))
        return json.loads(line[4:])

    def _log(self, name: str):
        return open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed by the OS

    def start_portal(self) -> None:
        self.portal = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "portal.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.portal_port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log("portal"),
            stderr=subprocess.STDOUT,
        )
        import requests

        def up() -> bool:
            assert self.portal.poll() is None, "uvicorn exited:\n" + self.log("portal")
            try:
                return requests.get(self.url + "/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(up, 30, "the portal to answer", 0.2)

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log("worker"),
            stderr=subprocess.STDOUT,
        )

    def kill(self, which: str) -> None:
        proc: subprocess.Popen | None = getattr(self, which)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        setattr(self, which, None)

    def stop(self, which: str) -> None:
        proc: subprocess.Popen | None = getattr(self, which)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        setattr(self, which, None)

    def log(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""
