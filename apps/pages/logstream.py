"""The Log stream page, its server-sent events and the download."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from apps.access.services import app_for
from apps.core.apierrors import error_response
from apps.logs import services

DOWNLOAD_DEFAULT = 1000
DOWNLOAD_MAX = 10000


@login_required
@require_GET
def logstream(request: HttpRequest, name: str) -> HttpResponse:
    app = app_for(request.user, name)
    return render(
        request,
        "logs/logstream.html",
        {"app": app, "nav": "logstream", "history": services.HISTORY},
    )


def _blocking(agen: AsyncIterator[str]) -> Iterator[str]:
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                yield loop.run_until_complete(agen.__anext__())
            except StopAsyncIteration:
                return
    finally:
        loop.run_until_complete(agen.aclose())
        loop.close()


@login_required
@require_GET
async def logstream_events(request: HttpRequest, name: str) -> StreamingHttpResponse:
    """text/event-stream: the recent history, then lines as they come. An
    EventSource reconnects by itself with Last-Event-ID; a page that makes a
    new EventSource passes it as ?last_event_id=."""
    user = await request.auser()
    app = await sync_to_async(app_for)(user, name)
    last = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id", "")
    stream = services.events(app, last_event_id=last)
    if not isinstance(request, ASGIRequest):
        # Under WSGI (runserver, the test live server) Django would read an
        # async iterator to its end before sending anything: drive it here.
        stream = _blocking(stream)
    response = StreamingHttpResponse(stream, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx in front must not hold lines back
    return response


@login_required
@require_GET
def logstream_download(request: HttpRequest, name: str) -> HttpResponse:
    app = app_for(request.user, name)
    try:
        lines = int(request.GET.get("lines", DOWNLOAD_DEFAULT))
    except ValueError:
        lines = DOWNLOAD_DEFAULT
    lines = min(max(lines, 1), DOWNLOAD_MAX)
    found = services.recent_text(app, lines)
    response = HttpResponse(found.text, content_type="text/plain; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{app.name}-log-{stamp}.txt"'
    return response


@csrf_exempt
@require_GET
async def api_logstream(request: HttpRequest, name: str) -> HttpResponse:
    """GET /api/apps/<name>/logstream: the Log stream as plain text lines
    (`berth webapp log tail`), Bearer token auth like the rest of the API."""
    # Token only (apps.api.auth's middleware sets these): a cookie does not
    # open the API.
    if not getattr(request, "token_authenticated", False):
        response = error_response(
            401,
            "Unauthorized",
            "Send a valid API token as 'Authorization: Bearer <token>' "
            "(get one with `berth login` or POST /api/token).",
        )
        response["WWW-Authenticate"] = 'Bearer realm="berth"'
        return response
    try:
        app = await sync_to_async(app_for)(await request.auser(), name)
    except Http404:
        return error_response(
            404,
            "ResourceNotFound",
            f"The web app {name!r} was not found: check the name with `berth webapp list`.",
        )
    stream = services.text_lines(app)
    if not isinstance(request, ASGIRequest):
        stream = _blocking(stream)
    response = StreamingHttpResponse(stream, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
