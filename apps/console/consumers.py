"""The WebSocket end of an SSH session: /apps/<name>/ssh/ws.

Protocol (the page's console.js and the CLI's berth_cli/ssh.py speak it):
- client -> server: binary frames are keystrokes, passed to the shell's TTY
  as they are (Ctrl-C is just \\x03); text frames are JSON control messages,
  {"type": "resize", "rows": R, "cols": C}. A text frame that is not JSON is
  typed too, so a plain WebSocket client can be used by hand.
- server -> client: text frames of terminal output, decoded from UTF-8
  incrementally, so a character split across two reads arrives whole.
- The close code and reason say why a session ended (apps.console.services
  CLOSE_*): 4403 no access (the reason says which role would do, when
  the user can see the app), 4404 app not running, 4408 idle, 4410 the app
  stopped, 1000 the shell ended.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import logging
import threading
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from apps.console import services
from apps.engine.errors import EngineError

log = logging.getLogger(__name__)

GREEN, RED, YELLOW, RESET = "\x1b[32m", "\x1b[31m", "\x1b[33m", "\x1b[0m"
BANNER = f"{GREEN}SSH CONNECTION ESTABLISHED{RESET}\r\n"


def _reason(text: str) -> str:
    # A close frame's reason is at most 123 bytes of UTF-8.
    data = text.encode()
    return text if len(data) <= 123 else data[:120].decode("utf-8", "ignore") + "..."


class SshConsumer(AsyncWebsocketConsumer):
    session: services.Session | None = None

    async def connect(self) -> None:
        self.session = None
        self.tasks: list[asyncio.Task] = []
        self.ending = False
        self.last_activity = time.monotonic()
        name = self.scope["url_route"]["kwargs"]["name"]
        user = self.scope.get("user")
        access = await database_sync_to_async(services.app_for_user)(user, name)
        # Accept first: a refused handshake reaches the browser as a bare 1006
        # with no reason; a close frame carries the code and says why.
        await self.accept()
        app = access.app
        if app is None:
            await self._refuse(access.message, services.CLOSE_FORBIDDEN, reason=access.reason)
            return
        target = await asyncio.to_thread(services.find_target, app)
        if not target.container:
            await self._refuse(target.message, services.CLOSE_NOT_RUNNING)
            return
        try:
            self.session = await asyncio.to_thread(services.open_shell, app, user, target.container)
        except EngineError as e:
            await self._refuse(f"Could not open a shell: {e.message}", services.CLOSE_ENGINE)
            return
        await database_sync_to_async(services.record_open)(self.session)
        await self.send(text_data=BANNER)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        threading.Thread(
            target=_pump, args=(self.session, loop, queue), daemon=True, name="ssh-pump"
        ).start()
        self.tasks = [
            asyncio.create_task(self._forward(queue)),
            asyncio.create_task(self._watch_idle()),
        ]

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.session is None or self.ending:
            return
        data = bytes_data
        if text_data is not None:
            try:
                message = json.loads(text_data)
            except ValueError:
                message = None
            if isinstance(message, dict):
                await self._control(message)
                return
            data = text_data.encode()
        if data:
            self.last_activity = time.monotonic()
            # If the shell is gone, _forward sees the end and says so.
            with contextlib.suppress(OSError):
                await asyncio.to_thread(self.session.stream.write, data)

    async def _control(self, message: dict) -> None:
        if message.get("type") == "resize":
            try:
                rows, cols = int(message["rows"]), int(message["cols"])
            except (KeyError, TypeError, ValueError):
                return
            await asyncio.to_thread(services.resize, self.session, rows, cols)

    async def disconnect(self, code: int) -> None:
        await self._end("closed by the user")

    async def _refuse(self, message: str, code: int, *, reason: str = "") -> None:
        await self.send(text_data=f"{RED}{message}{RESET}\r\n")
        await self.close(code=code, reason=_reason(reason or message))

    async def _forward(self, queue: asyncio.Queue[bytes]) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while True:
            data = await queue.get()
            text = decoder.decode(data, final=not data)
            if text:
                await self.send(text_data=text)
            if not data:
                break
            self.last_activity = time.monotonic()
        # The shell ended: `exit`, or the container stopped under it.
        session = self.session
        if session and await asyncio.to_thread(services.app_stopped_under, session):
            message, code = (
                f"The app stopped: container {session.container} is no longer running.",
                services.CLOSE_APP_STOPPED,
            )
        else:
            message, code = "The shell ended.", services.CLOSE_NORMAL
        await self._end(message, code=code, current=asyncio.current_task())

    async def _watch_idle(self) -> None:
        limit = services.idle_timeout()
        while True:
            left = self.last_activity + limit - time.monotonic()
            if left <= 0:
                break
            await asyncio.sleep(left)
        message = f"Closed after {services.format_duration(limit)} without activity."
        await self._end(message, code=services.CLOSE_IDLE, current=asyncio.current_task())

    async def _end(
        self, reason: str, *, code: int | None = None, current: asyncio.Task | None = None
    ) -> None:
        """Hang up the shell, record the session, and close the socket if
        still open. Runs once, whoever ends first."""
        if self.ending:
            return
        self.ending = True
        for task in self.tasks:
            if task is not current:
                task.cancel()
        session = self.session
        if session is not None and not session.closed:
            session.closed = True
            await asyncio.to_thread(services.hang_up, session)
            try:
                await database_sync_to_async(services.record_close)(session, reason)
            except Exception:
                log.exception("Could not record the end of SSH session %s", session.key)
        if code is not None:
            colour = GREEN if code == services.CLOSE_NORMAL else YELLOW
            with contextlib.suppress(Exception):
                await self.send(text_data=f"\r\n{colour}{reason}{RESET}\r\n")
                await self.close(code=code, reason=_reason(reason))


def _pump(session: services.Session, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue) -> None:
    """Blocking reads of the shell's output, in a thread of their own (one per
    session, so many open sessions never starve the loop's default executor)."""
    while True:
        data = session.stream.read()
        try:
            loop.call_soon_threadsafe(queue.put_nowait, data)
        except RuntimeError:  # the loop is gone
            return
        if not data:
            return
