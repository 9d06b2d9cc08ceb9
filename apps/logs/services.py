"""The Log stream: an app's container output as server-sent events.

Each viewer is one async generator on the portal's event loop. The engine's
follow read blocks, so it runs in a thread of its own per viewer (not the
event loop's small default pool, which 50 idle viewers would fill), and hands
lines over through an asyncio.Queue. When the container stops, restarts or a
new release takes over, the follow ends; the generator finds the serving
container again, says so with a marker line, and goes on from the last time
it sent (`since`), so nothing is repeated and nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from asgiref.sync import sync_to_async

from apps.engine import client as engine
from apps.engine.errors import EngineError
from apps.logs import archive
from apps.logs.timestamps import ns_to_since, to_ns
from apps.webapps.environment import secret_values
from apps.webapps.masking import HOLD_SECONDS, LineMasker, Masker, masker
from apps.webapps.models import WebApp

HISTORY = 100  # lines sent first, like the portal's log stream
KEEPALIVE = 15.0  # seconds: a comment line keeps proxies from closing a quiet stream
RETRY_MS = 2000  # EventSource waits this long before it reconnects by itself
WAIT = 2.0  # seconds between looks for a container while none serves
_END = object()
_PING = object()


@dataclass(frozen=True)
class Target:
    """The container serving an app, and what tells a restart apart."""

    name: str
    id: str
    restart_count: int
    started_at: str
    status: str

    @property
    def short_id(self) -> str:
        return self.id[:12]


def serving_container(app: WebApp) -> str:
    """The name of the app's serving container: the active release's, else the
    newest app container Berth runs for it; "" when there is none."""
    # Through the reverse relation: logs do not import the deployments app.
    active = app.deployments.filter(active=True).first()
    if active and active.container:
        return active.container
    try:
        found = engine.find_containers({"io.berth.app": app.name, "io.berth.role": "app"})
    except EngineError:
        return ""
    return found[0] if found else ""


def inspect_target(name: str) -> Target | None:
    if not name:
        return None
    try:
        state = engine.container_state(name)
        cid = engine.container_id(name)
    except EngineError:
        return None
    return Target(name, cid, state.restart_count, state.started_at, state.status)


# --- timestamps ----------------------------------------------------------------


def human_time(stamp: str) -> str:
    ns = to_ns(stamp)
    if not ns:
        return stamp or "an unknown time"
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def parse_event_id(event_id: str) -> tuple[str, int]:
    """Last-Event-ID "<container short id>:<timestamp>" -> (short id, ns)."""
    short, _, stamp = (event_id or "").partition(":")
    if not stamp:
        return "", 0
    return short, to_ns(stamp)


# --- server-sent events ------------------------------------------------------


def sse(event: str, data: dict, event_id: str = "") -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def marker(text: str) -> str:
    return sse("marker", {"text": f"──── {text} ────"})


async def follow(
    name: str, *, since: str, tail: int | str, keepalive: float = KEEPALIVE
) -> AsyncIterator[engine.LogLine | object]:
    """LogLines of one container as they come, and _PING after `keepalive`
    seconds of silence. Ends when the container stops. The blocking read is in
    a thread of its own, closed when this generator is (client gone)."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue = asyncio.Queue()
    holder: dict[str, engine.LogFollower] = {}
    gone = threading.Event()

    def put(item) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
            loop.call_soon_threadsafe(lines.put_nowait, item)

    def read() -> None:
        try:
            follower = engine.container_logs_stream(name, since=since, tail=tail)
            holder["f"] = follower
            if gone.is_set():
                follower.close()
                return
            for line in follower:
                put(line)
        except EngineError as e:
            put(e)
        finally:
            put(_END)

    threading.Thread(target=read, name=f"logstream-{name}", daemon=True).start()
    try:
        while True:
            try:
                item = await asyncio.wait_for(lines.get(), timeout=keepalive)
            except TimeoutError:
                yield _PING
                continue
            if item is _END:
                return
            yield item
    finally:
        gone.set()
        if f := holder.get("f"):
            await asyncio.to_thread(f.close)


async def events(
    app: WebApp,
    *,
    last_event_id: str = "",
    history: int = HISTORY,
    keepalive: float = KEEPALIVE,
    wait: float = WAIT,
) -> AsyncIterator[str]:
    """The Log stream of `app` as SSE text, forever (until the client leaves)."""
    secrets = masker(await sync_to_async(secret_values)(app))
    yield f"retry: {RETRY_MS}\n\n"
    resume_short, last_ns = parse_event_id(last_event_id)
    previous: Target | None = None
    said_waiting = False
    # A fresh viewer with no running container sees the archive's last lines:
    # a crashed or replaced container's story stays readable.
    history_due = not last_event_id
    while True:
        name = await sync_to_async(serving_container)(app)
        target = await asyncio.to_thread(inspect_target, name)
        if target is not None and target.status == "restarting":
            await asyncio.sleep(0.5)  # the engine is bringing it back: a marker follows
            continue
        if target is None or target.status != "running":
            if history_due and previous is None:
                for item in await asyncio.to_thread(archived_history, app, history, secrets):
                    yield item
            history_due = False
            if previous is not None and previous.status == "running":
                yield marker(f"container {previous.name} stopped at {_now()}")
                previous = Target(previous.name, previous.id, previous.restart_count, "", "gone")
            if not said_waiting:
                why = (
                    f"{app.name} is stopped: start it on the Overview page."
                    if app.state == WebApp.State.STOPPED
                    else f"No running container for {app.name} yet: waiting for one "
                    "(deploy from the Deployment Center)."
                )
                yield sse("info", {"text": why})
                said_waiting = True
            await asyncio.sleep(wait)
            yield ": waiting\n\n"
            await sync_to_async(app.refresh_from_db)(fields=["state"])
            continue
        said_waiting = False
        history_due = False
        if previous is not None and target.id[:12] != previous.id[:12]:
            yield marker(
                f"new container {target.name} took over at {human_time(target.started_at)}"
            )
            last_ns = 0
        elif previous is not None and (
            target.restart_count != previous.restart_count
            or (previous.started_at and target.started_at != previous.started_at)
        ):
            yield marker(f"container restarted at {human_time(target.started_at)}")
        elif previous is None and resume_short and resume_short != target.short_id:
            # Reconnected after a release took over: the new container's story from its start.
            yield marker(
                f"new container {target.name} took over at {human_time(target.started_at)}"
            )
            last_ns = 0
        previous = target
        since = ns_to_since(last_ns) if last_ns else ""
        # Only lines up to where the last follow stopped were sent already.
        # Within one follow, stdout and stderr lines can arrive slightly out
        # of timestamp order (the engine copies each stream on its own), so
        # a line older than the newest one seen is not a repeat.
        sent_up_to = last_ns
        # A line ending with the start of a secret waits for the next one, up
        # to HOLD_SECONDS: a secret split across the two is masked in both.
        stream: LineMasker[tuple[engine.LogLine, str]] = LineMasker(secrets)
        quiet_since = time.monotonic()
        async for item in follow(
            target.name,
            since=since,
            tail="all" if since else history,
            keepalive=min(keepalive, HOLD_SECONDS),
        ):
            if item is _PING:
                for message in _line_events(stream.release()):
                    yield message
                    quiet_since = time.monotonic()
                if time.monotonic() - quiet_since >= keepalive:
                    yield ": keep-alive\n\n"
                    quiet_since = time.monotonic()
                continue
            if isinstance(item, EngineError):
                yield sse("info", {"text": item.message})
                continue
            ns = to_ns(item.timestamp)
            if ns and ns <= sent_up_to:
                continue  # `since` is inclusive: this one was sent before
            last_ns = max(last_ns, ns)
            for message in _line_events(
                stream.push((item, f"{target.short_id}:{item.timestamp}"), item.text)
            ):
                yield message
                quiet_since = time.monotonic()
        for message in _line_events(stream.end()):
            yield message
        # The follow ended: stopped, restarted, or replaced. Look again shortly.
        await asyncio.sleep(0.5)


def _line_events(masked: list[tuple[tuple[engine.LogLine, str], str]]) -> list[str]:
    return [
        sse("line", {"t": line.timestamp, "s": line.stream, "text": text}, event_id=event_id)
        for (line, event_id), text in masked
    ]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- download ------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    ok: bool
    text: str


def recent_text(app: WebApp, lines: int = 1000) -> Download:
    """The last `lines` lines, masked, one per line: `<time> <stream> <text>`.
    The archive's (earlier containers, restart markers, a crashed container's
    last words), then what the serving container said since."""
    archived = archive.tail(app.name, lines)
    name = serving_container(app)
    live: list[engine.LogLine] = []
    if name:
        try:
            live = engine.container_logs_lines(name, tail=lines)
        except EngineError as e:
            if not archived:
                return Download(False, e.message + "\n")
    if not archived and not live:
        if not name:
            return Download(False, f"No container serves {app.name}: nothing to download.\n")
        return Download(True, "")
    # The serving container's lines the archiver has not written yet.
    seen = max((to_ns(a.timestamp) for a in archived if a.container == name), default=0)
    rows = [_archived_row(a) for a in archived]
    rows += [(ln.timestamp, ln.stream, ln.text) for ln in live if to_ns(ln.timestamp) > seen]
    rows = rows[-lines:]
    texts = masker(secret_values(app)).lines(text for _, _, text in rows)
    body = "".join(f"{t} {s} {text}\n" for (t, s, _), text in zip(rows, texts, strict=True))
    return Download(True, body)


def _archived_row(line: archive.ArchivedLine) -> tuple[str, str, str]:
    if line.stream == "marker":
        return line.timestamp, "marker", f"──── {line.text} ────"
    return line.timestamp, line.stream, line.text


def archived_history(app: WebApp, history: int, secrets: Masker) -> list[str]:
    """The archive's last `history` lines as SSE messages (masked again with
    today's secrets: a value added since is hidden too)."""
    found = archive.tail(app.name, history)
    if not found:
        return []
    out = [sse("info", {"text": f"The last {len(found)} archived lines of {app.name}:"})]
    texts = secrets.lines(a.text for a in found)
    for a, text in zip(found, texts, strict=True):
        if a.stream == "marker":
            out.append(marker(f"{a.text} at {human_time(a.timestamp)}"))
        else:
            out.append(sse("line", {"t": a.timestamp, "s": a.stream, "text": text}))
    return out


# --- plain text (the API's log stream, `berth webapp log tail`) -------------------


def plain(message: str) -> str | None:
    """One SSE message of events() as a plain text line; None for comments
    and the retry hint."""
    event, data = "", ""
    for field in message.strip("\n").splitlines():
        key, _, value = field.partition(": ")
        if key == "event":
            event = value
        elif key == "data":
            data = value
    if not event or not data:
        return None
    body = json.loads(data)
    if event == "line":
        return f"{body.get('t', '')} {body.get('s', '')} {body.get('text', '')}\n"
    return f"{body.get('text', '')}\n"


async def text_lines(app: WebApp, *, history: int = HISTORY, **kwargs) -> AsyncIterator[str]:
    """The Log stream as plain text lines, as `az webapp log tail` prints."""
    async for message in events(app, history=history, **kwargs):
        if (text := plain(message)) is not None:
            yield text
