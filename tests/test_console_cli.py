"""`berth webapp ssh` (berth_cli/ssh.py) against a live portal under uvicorn
and a real app container: in a pseudo-terminal, as a person uses it, and with
piped input, as a script does."""

from __future__ import annotations

import fcntl
import os
import pty
import secrets
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

from apps.engine import client as engine
from berth_cli.errors import CliError
from berth_cli.ssh import run_ssh, ws_url
from tests.console_helpers import ROOT, start_app_container, start_portal, stop_portal

pytestmark = [pytest.mark.docker, pytest.mark.runtime]

RUN = "import sys; from berth_cli.ssh import run_ssh; sys.exit(run_ssh(*sys.argv[1:4]))"


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    if not engine.image_exists("berth/python:3.11"):
        pytest.fail("berth/python:3.11 is missing: run `python manage.py runtime ensure 3.11`")
    app = f"ssh-cli-{secrets.token_hex(3)}"
    container = start_app_container(app)
    live = None
    try:
        live = start_portal(tmp_path_factory.mktemp("ssh-cli"), app)
        yield live
    finally:
        if live:
            stop_portal(live)
        engine.remove_container(container)


def read_until(fd: int, needle: bytes, timeout: float = 15) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} did not appear; saw {seen[-1500:]!r}")
        if select.select([fd], [], [], left)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"EOF before {needle!r}; saw {seen[-1500:]!r}")
            seen += chunk
    return seen


def set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def test_it_builds_the_websocket_address():
    assert ws_url("http://127.0.0.1:8000", "a") == "ws://127.0.0.1:8000/apps/a/ssh/ws"
    assert (
        ws_url("https://berth.example/portal/", "a") == "wss://berth.example/portal/apps/a/ssh/ws"
    )


def test_it_runs_a_shell_in_a_terminal(portal):
    master, slave = pty.openpty()
    set_size(slave, 30, 100)
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, portal.url, portal.token, portal.app],
        cwd=ROOT,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    try:
        read_until(master, b"SSH CONNECTION ESTABLISHED")
        os.write(master, b"echo hello-$((6*7)) $(pwd)\r")
        assert b"hello-42 /home/site/wwwroot" in read_until(master, b"hello-42 /")
        os.write(master, b"stty size\r")
        read_until(master, b"30 100")
        # A resize: the window changes, SIGWINCH tells the CLI.
        set_size(master, 40, 120)
        proc.send_signal(signal.SIGWINCH)
        time.sleep(0.5)
        os.write(master, b"stty size\r")
        read_until(master, b"40 120")
        # Raw mode: Ctrl-C goes to the remote shell, not to the CLI.
        os.write(master, b"sleep 100\r")
        time.sleep(0.5)
        os.write(master, b"\x03")
        os.write(master, b"echo still-$((40+2))\r")
        read_until(master, b"still-42")
        os.write(master, b"exit\r")
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_it_runs_piped_commands(portal):
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, portal.url, portal.token, portal.app],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        out, _ = proc.communicate(b"echo piped-$((6*7)) $MY_SETTING\n", timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"still running after 30 s; it printed {out!r}") from None
    assert b"piped-42 hello from settings" in out, out
    assert proc.returncode == 0, out


def ssh_in_process(portal, token: str, app: str, tmp_path) -> None:
    with open(os.devnull, "rb") as stdin, open(tmp_path / "out", "wb") as stdout:
        run_ssh(portal.url, token, app, stdin=stdin, stdout=stdout)


def test_it_refuses_a_bad_token(portal, tmp_path):
    with pytest.raises(CliError, match="No web app"):
        ssh_in_process(portal, "berth_not-a-token", portal.app, tmp_path)


def test_it_says_when_the_app_is_not_there(portal, tmp_path):
    with pytest.raises(CliError, match="No web app"):
        ssh_in_process(portal, portal.token, "no-such-app", tmp_path)


READER = """
from django.contrib.auth.models import User
from apps.access.models import Role, RoleAssignment
from apps.api.models import ApiToken
from apps.webapps.models import WebApp
rita = User.objects.create_user("rita")
RoleAssignment.objects.create(role=Role.READER, user=rita, app=WebApp.objects.get(name={app!r}))
print("TOKEN=" + ApiToken.objects.create_for(rita, "ssh-test")[1])
"""


def test_it_tells_a_reader_which_role_ssh_needs(portal, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(BERTH_DATA_DIR=str(portal.data_dir), DJANGO_SETTINGS_MODULE="portal.settings")
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", READER.format(app=portal.app)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    token = next(line[6:] for line in done.stdout.splitlines() if line.startswith("TOKEN="))
    with pytest.raises(CliError) as refused:
        ssh_in_process(portal, token, portal.app, tmp_path)
    assert refused.value.message == (
        f"Your role on {portal.app} is Reader: SSH needs Contributor or Owner."
    )
    # What the terminal showed says the rest.
    shown = (tmp_path / "out").read_text()
    assert "Opening an SSH session requires the Contributor or Owner role" in shown
