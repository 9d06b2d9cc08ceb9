"""`berth webapp ssh`: the portal's SSH console in this terminal.

Speaks the console's WebSocket protocol (apps/console/consumers.py): stdin's
bytes go out as binary frames, window sizes as JSON text frames, output comes
back as text. The local terminal is put in raw mode, so Ctrl-C, arrows and
full-screen programs reach the remote shell; it is restored on the way out.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import threading
from typing import IO, Any
from urllib.parse import quote, urlsplit, urlunsplit

from berth_cli.errors import CliError

CLOSE_NORMAL = 1000


def ws_url(base_url: str, name: str) -> str:
    parts = urlsplit(base_url.rstrip("/"))
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    path = f"{parts.path}/apps/{quote(name, safe='')}/ssh/ws"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def origin(base_url: str) -> str:
    # The portal checks Origin against its allowed hosts, as for a browser:
    # the CLI is "from" the portal it talks to.
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def terminal_size(fd: int) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return 24, 80
    return size.lines, size.columns


def _connect(base_url: str, token: str, name: str) -> Any:
    try:
        from websockets.exceptions import InvalidHandshake, InvalidStatus
        from websockets.sync.client import connect
    except ImportError as e:
        raise CliError(
            "`berth webapp ssh` needs the websockets package: pip install websockets"
        ) from e
    try:
        return connect(
            ws_url(base_url, name),
            origin=origin(base_url),  # type: ignore[arg-type]
            additional_headers={"Authorization": f"Bearer {token}"},
            open_timeout=20,
            max_size=None,
        )
    except InvalidStatus as e:
        status = e.response.status_code
        if status == 403:
            raise CliError(
                f"The portal refused the connection (403): is {base_url} in its ALLOWED_HOSTS?"
            ) from e
        raise CliError(f"The portal answered {status} instead of opening a session.") from e
    except (InvalidHandshake, OSError, TimeoutError) as e:
        raise CliError(f"Cannot open a WebSocket to {base_url}: {e}") from e


def run_ssh(
    base_url: str,
    token: str,
    name: str,
    *,
    stdin: IO[bytes] | IO[str] | None = None,
    stdout: IO[bytes] | IO[str] | None = None,
) -> int:
    """Open a shell in the app's container; returns when the session ends.
    Raises CliError when it could not open or ended abnormally."""
    in_fd = (stdin or sys.stdin).fileno()
    out_fd = (stdout or sys.stdout).fileno()
    ws = _connect(base_url, token, name)
    wake_r, wake_w = os.pipe()
    done = threading.Event()

    def receive() -> None:
        try:
            for message in ws:
                data = message.encode() if isinstance(message, str) else message
                while data:
                    data = data[os.write(out_fd, data) :]
        except Exception:  # the connection broke: the close code says how
            pass
        finally:
            done.set()
            with contextlib.suppress(OSError):
                os.write(wake_w, b"x")

    def send_size() -> None:
        rows, cols = terminal_size(in_fd)
        with contextlib.suppress(Exception):
            ws.send(json.dumps({"type": "resize", "rows": rows, "cols": cols}))

    reader = threading.Thread(target=receive, daemon=True)
    reader.start()
    tty = os.isatty(in_fd)
    old_winch = None
    with _raw_mode(in_fd) if tty else contextlib.nullcontext():
        if tty:
            send_size()
            # Resizes arrive as signals; the handler only wakes the loop.
            old_winch = signal.signal(signal.SIGWINCH, lambda *_: os.write(wake_w, b"w"))
        try:
            _forward(ws, in_fd, wake_r, done, send_size)
        finally:
            if old_winch is not None:
                signal.signal(signal.SIGWINCH, old_winch)
            with contextlib.suppress(Exception):
                ws.close()
            reader.join(timeout=5)
            os.close(wake_r)
            os.close(wake_w)
    code, reason = ws.close_code, ws.close_reason
    if code in (CLOSE_NORMAL, None) or (code == 1005 and not reason):
        return 0
    if code == 4403:
        # The server says why: no such app (or an expired token), or the
        # role that SSH needs.
        raise CliError(
            reason or f"No web app {name} that you may manage (or your token expired: berth login)."
        )
    raise CliError(reason or f"The session ended (WebSocket close code {code}).")


def _forward(ws: Any, in_fd: int, wake_r: int, done: threading.Event, send_size) -> None:
    stdin_open = True
    while not done.is_set():
        watch = [wake_r, in_fd] if stdin_open else [wake_r]
        readable, _, _ = select.select(watch, [], [])
        if wake_r in readable:
            for signal_byte in os.read(wake_r, 64):
                if signal_byte == ord("w"):
                    send_size()
        if in_fd in readable:
            data = os.read(in_fd, 65536)
            if not data:
                # End of piped input: end the shell once it has run the lines
                # before. Typed ahead like them, so it waits its turn; a Ctrl-D
                # would not (the TTY drops it when the shell switches modes).
                data, stdin_open = b"\rexit\r", False
            try:
                ws.send(data)
            except Exception:
                return


@contextlib.contextmanager
def _raw_mode(fd: int):
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def webapp_ssh(args) -> None:
    """The command: `berth webapp ssh -n NAME [-g GROUP]`."""
    from berth_cli import config

    profile = config.current_profile()
    run_ssh(profile.url, profile.token, args.name)
