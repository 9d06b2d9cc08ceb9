"""Request body limits, enforced while the body arrives.

Under uvicorn, Django's ASGI handler reads a whole request body (spooling it
to disk) before any middleware or view runs, so a limit a view checks comes
after the upload has been received in full. `BodyLimit` wraps the ASGI app
and counts the body as it arrives: a declared Content-Length over the limit
is refused before a byte is read, and a streamed (chunked) body the moment it
passes the limit. `ContentLengthMiddleware` does the Content-Length half for
Django's own (WSGI) servers. Views still count what they read (intake and
git do), so the limit holds however the portal is served.

A refusal is a 413 whose message names the limit and the setting to raise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

# Room for what wraps the payload: multipart boundaries and form fields
# around a zip, git's ref commands in front of its pack.
ENVELOPE = 1024 * 1024


@dataclass(frozen=True)
class Limit:
    bytes: int
    setting: str  # what to raise, e.g. BERTH_MAX_ZIP_MB
    what: str  # "a zip deployment"
    advice: str = ""
    # How the refusal is written, as the endpoint answers its other errors:
    # "kudu" {"error": "..."} (zipdeploy, git), "api" {"error": {"code",
    # "message"}}, "text" for a page's form (the browser shows it as is).
    shape: str = "api"

    def message(self) -> str:
        size = getattr(settings, self.setting)
        size = f"{size} MB" if self.setting.endswith("_MB") else f"{size} bytes"
        text = f"The request is bigger than the limit for {self.what} ({size}, {self.setting})."
        return f"{text} {self.advice}" if self.advice else text


_SMALLER = "Leave out virtual environments and build output"


# (path pattern, setting in MB, what, advice, shape): the uploads that may be large.
_UPLOADS = (
    (
        re.compile(r"^/api/apps/[^/]+/zipdeploy/?$"),
        "BERTH_MAX_ZIP_MB",
        "a zip deployment",
        _SMALLER + " (or ask the administrator to raise BERTH_MAX_ZIP_MB).",
        "kudu",
    ),
    (
        re.compile(r"^/apps/[^/]+/deployment-center/upload/?$"),
        "BERTH_MAX_ZIP_MB",
        "a zip deployment",
        _SMALLER + " (or ask the administrator to raise BERTH_MAX_ZIP_MB).",
        "text",
    ),
    (
        re.compile(r"^/git/[^/]+\.git/git-receive-pack$"),
        "BERTH_MAX_PUSH_MB",
        "a git push",
        "Push fewer or smaller commits, and keep build output and large data out of the "
        "repository (or ask the administrator to raise BERTH_MAX_PUSH_MB).",
        "kudu",
    ),
)


def limit_for(path: str) -> Limit | None:
    """The most a request to `path` may send (None: no limit)."""
    for pattern, setting, what, advice, shape in _UPLOADS:
        if pattern.match(path):
            mb = getattr(settings, setting)
            return Limit(mb * 1024 * 1024 + ENVELOPE, setting, what, advice, shape)
    # Everything else is a form or JSON, which Django refuses above this
    # anyway (RequestDataTooBig); stop it before it is spooled to disk.
    if settings.DATA_UPLOAD_MAX_MEMORY_SIZE is None:
        return None
    return Limit(
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE + ENVELOPE,
        "DATA_UPLOAD_MAX_MEMORY_SIZE",
        "a form or JSON body",
        shape="api" if path.startswith("/api/") else "text",
    )


def _body(limit: Limit) -> tuple[bytes, str]:
    """The refusal's body and content type."""
    if limit.shape == "text":
        return limit.message().encode() + b"\n", "text/plain; charset=utf-8"
    if limit.shape == "kudu":
        error: object = limit.message()
    else:
        error = {"code": "RequestTooLarge", "message": limit.message()}
    return json.dumps({"error": error}).encode(), "application/json"


def too_large(limit: Limit) -> HttpResponse:
    body, content_type = _body(limit)
    return HttpResponse(body, status=413, content_type=content_type)


def refusal(path: str) -> HttpResponse:
    """The 413 for a view that counted a body over `path`'s limit itself."""
    limit = limit_for(path)
    if limit is None:
        return HttpResponse("The request is too large.\n", status=413, content_type="text/plain")
    return too_large(limit)


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for key, value in headers:
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BodyLimit:
    """ASGI middleware: refuse an HTTP request body over its path's limit
    while it arrives (see the module's docstring)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope.get("path", ""))
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope.get("headers", []))
        if declared is not None and declared > limit.bytes:
            await self._refuse(send, limit)
            return
        received = 0
        over = False

        async def counted() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.bytes:
                    # Django drops a request whose client went away, without
                    # an answer; the answer is ours to send below.
                    over = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted, send)
        if over:
            await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: Limit) -> None:
        body, content_type = _body(limit)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class ContentLengthMiddleware:
    """Django middleware: refuse a declared Content-Length over the path's
    limit before the body is read (for WSGI servers; under ASGI BodyLimit
    has already done so)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        limit = limit_for(request.path_info)
        if limit is not None and declared > limit.bytes:
            return too_large(limit)
        return self.get_response(request)
