"""SSH sessions into an app's container: who may open one, whether the app
runs, the shell that starts, and the record each session leaves in the
Activity log. Plain synchronous functions; the consumer calls them from
threads (asyncio.to_thread / database_sync_to_async)."""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.http import Http404
from django.utils import timezone

from apps.access.services import WRITE, Refused, app_for, can, role_for, roles_allowed
from apps.audit.services import record
from apps.engine import client as engine
from apps.engine.errors import EngineError
from apps.webapps.models import WebApp

APP_PATH = "/home/site/wwwroot"

# Activity log actions (apps.audit): one event when a session opens, one when
# it closes, the second with how long it lasted.
ACTION_OPEN = "ssh.open"
ACTION_CLOSE = "ssh.close"

# WebSocket close codes (4000-4999 are the application's), shown by the page
# and the CLI beside the reason.
CLOSE_NORMAL = 1000
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_RUNNING = 4404
CLOSE_IDLE = 4408
CLOSE_APP_STOPPED = 4410
CLOSE_ENGINE = 4500

# The rc file both shells read (bash through --rcfile, sh through $ENV):
# the distribution's bashrc, colours, the app's virtual environment, then it
# removes itself so /tmp does not fill up with them.
RC = r"""
if [ -n "$BASH_VERSION" ]; then
  [ -f /etc/bash.bashrc ] && . /etc/bash.bashrc
  [ -f "$HOME/.bashrc" ] && . "$HOME/.bashrc"
  PS1='\[\e[1;32m\]\u@\h\[\e[0m\]:\[\e[1;34m\]$PWD\[\e[0m\]\$ '
fi
alias ls='ls --color=auto' 2>/dev/null
alias grep='grep --color=auto' 2>/dev/null
[ -f /home/site/wwwroot/antenv/bin/activate ] && . /home/site/wwwroot/antenv/bin/activate
rm -f "$BERTH_SSH_RCFILE"
unset BERTH_SSH_RC BERTH_SSH_RCFILE ENV
"""

# Runs as /bin/sh in the container. It notes its pid so the session can be
# hung up later: closing the exec's connection does not end the shell (the
# engine keeps an exec running when its client goes away, moby#9098). `exec`
# keeps that pid for the shell itself.
START = r"""
echo $$ > "/tmp/.berth-ssh-$BERTH_SSH_SESSION.pid"
cd /home/site/wwwroot 2>/dev/null || cd "${HOME:-/}" 2>/dev/null || cd /
BERTH_SSH_RCFILE="/tmp/.berth-ssh-$BERTH_SSH_SESSION.rc"
printf '%s\n' "$BERTH_SSH_RC" > "$BERTH_SSH_RCFILE"
export BERTH_SSH_RCFILE
unset BERTH_SSH_SESSION
if command -v bash >/dev/null 2>&1; then exec bash --rcfile "$BERTH_SSH_RCFILE" -i; fi
ENV="$BERTH_SSH_RCFILE" exec sh -i
"""

# A terminal's hang-up: SIGHUP makes an interactive bash pass it on to its
# jobs and exit; whatever ignores it gets SIGKILL two seconds later.
HANG_UP = r"""
f="/tmp/.berth-ssh-$1.pid"
[ -f "$f" ] || exit 0
pid=$(cat "$f")
rm -f "$f" "/tmp/.berth-ssh-$1.rc"
kill -HUP "$pid" 2>/dev/null || exit 0
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done
kill -KILL "$pid" 2>/dev/null
exit 0
"""


# What the refusal names (apps.access.services.refusal).
WHAT = "Opening an SSH session"


def can_manage(user, app: WebApp) -> bool:
    """May this user open a shell in the app? A terminal can change anything,
    so it needs the `write` role action (Contributor, Owner, staff)."""
    return can(user, app, WRITE)


@dataclass(frozen=True)
class Access:
    """May this user open a shell in the app? `app` when they may; otherwise
    `message` (for the terminal and the page) and `reason` (for the close
    frame, which holds at most 123 bytes) say why."""

    app: WebApp | None
    message: str = ""
    reason: str = ""


def no_such_app(name: str) -> Access:
    # The same words for a missing app and one the user cannot see, so a
    # name's existence does not leak.
    reason = f"No web app {name} that you may open SSH in (or your sign-in expired)."
    return Access(None, f"{reason[:-1]}: check the name, or sign in again.", reason)


def app_for_user(user, name: str) -> Access:
    """The app called `name` if the user may open a shell in it
    (can_manage). A user who can see the app but not change it (a Reader)
    is told which role would do."""
    try:
        return Access(app_for(user, name, WRITE, what=WHAT))
    except Http404:
        return no_such_app(name)
    except Refused as e:
        role = role_for(user, e.app)
        needed = " or ".join(r.label for r in roles_allowed(WRITE))
        held = f"Your role on {e.app.name} is {role.label}" if role else "You hold no role here"
        return Access(None, e.message, f"{held}: SSH needs {needed}.")


@dataclass(frozen=True)
class Target:
    """Where a session would run: the container, or why there is none."""

    container: str | None
    message: str = ""


def idle_timeout() -> int:
    return int(settings.BERTH_SSH_IDLE_TIMEOUT)


def find_target(app: WebApp) -> Target:
    """The app's running container, or a message the page can show instead of
    a terminal that would hang."""
    try:
        container = engine.find_app_container(app.name)
    except EngineError as e:
        return Target(None, f"Cannot reach the Docker engine, so no SSH session: {e.message}")
    if container:
        return Target(container)
    return Target(None, not_running_message(app))


def not_running_message(app: WebApp) -> str:
    if app.state == WebApp.State.STOPPED:
        return f"{app.name} is stopped: start it on its Overview page, then open SSH again."
    try:
        names = engine.find_containers({"io.berth.app": app.name, "io.berth.role": "app"})
        state = engine.container_state(names[0]) if names else None
    except EngineError:
        state = None
    if state is None:
        return (
            f"{app.name} has no running container: it has not been deployed yet. "
            "Deploy it from the Deployment Center, then open SSH again."
        )
    how = f"exited with code {state.exit_code}" if state.exit_code is not None else state.status
    if state.oom_killed:
        how += " (killed: out of memory)"
    when = f" at {state.finished_at[:19].replace('T', ' ')} UTC" if state.finished_at else ""
    return (
        f"{app.name} is not running: its container {state.name} {how}{when}. "
        "See the Log stream or Diagnose and solve problems for why, then restart the app."
    )


@dataclass
class Session:
    """One open shell: what the consumer needs to drive it and to record it."""

    app: WebApp
    user: object
    container: str
    stream: engine.TtyStream
    key: str = field(default_factory=lambda: secrets.token_hex(8))
    started: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=timezone.now)
    closed: bool = False

    @property
    def exec_id(self) -> str:
        return self.stream.exec_id


def open_shell(app: WebApp, user, container: str, rows: int = 24, cols: int = 80) -> Session:
    """Start the shell in the container (blocking; call from a thread)."""
    key = secrets.token_hex(8)
    env = {
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "BERTH_SSH_SESSION": key,
        "BERTH_SSH_RC": RC,
    }
    stream = engine.exec_tty(container, ["/bin/sh", "-c", START], env=env)
    session = Session(app=app, user=user, container=container, stream=stream, key=key)
    resize(session, rows, cols)
    return session


def resize(session: Session, rows: int, cols: int) -> None:
    rows, cols = max(1, min(int(rows), 1000)), max(1, min(int(cols), 1000))
    # The exec may have ended already; a resize is not worth an error then.
    with contextlib.suppress(EngineError):
        engine.exec_resize(session.exec_id, rows, cols)


def hang_up(session: Session) -> None:
    """End the shell and whatever runs in it, and drop the connection."""
    # An engine error means the container is gone: so is the shell.
    with contextlib.suppress(EngineError):
        engine.exec_quick(session.container, ["/bin/sh", "-c", HANG_UP, "sh", session.key])
    session.stream.close()


def app_stopped_under(session: Session) -> bool:
    """Did the shell end because its container stopped (rather than `exit`)?
    The shell's end can reach us before the engine marks the container
    stopped, so an exit that looks like a kill is given a second to show."""
    try:
        code = engine.exec_exit_code(session.exec_id)
    except EngineError:
        code = None
    plain_exit = code is not None and 0 <= code < 128
    for _ in range(6):
        try:
            if engine.container_state(session.container).status != "running":
                return True
        except EngineError:
            return True  # removed
        if plain_exit:
            return False
        time.sleep(0.2)
    return False


def record_open(session: Session) -> None:
    record(
        app=session.app,
        action=ACTION_OPEN,
        actor=session.user,
        summary=f"Opened an SSH session in container {session.container}",
        after={"container": session.container, "session": session.key},
    )


def record_close(session: Session, reason: str) -> None:
    seconds = round(time.monotonic() - session.started)
    record(
        app=session.app,
        action=ACTION_CLOSE,
        actor=session.user,
        summary=f"Closed the SSH session after {format_duration(seconds)}: {reason}",
        after={
            "container": session.container,
            "session": session.key,
            "started": session.started_at.isoformat(),
            "ended": timezone.now().isoformat(),
            "duration_seconds": seconds,
            "reason": reason,
        },
    )


def format_duration(seconds: int) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
