from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.console import services
from apps.webapps.models import WebApp


def _get_app_for_user(request: HttpRequest, name: str) -> WebApp:
    app = services.app_for_user(request.user, name)
    if app is None:
        raise Http404("No such app")
    return app


@login_required
@require_GET
def ssh(request: HttpRequest, name: str) -> HttpResponse:
    app = _get_app_for_user(request, name)
    # Ask the engine before opening a socket: a stopped app gets a message,
    # not a terminal that waits forever.
    target = services.find_target(app)
    ctx = {
        "app": app,
        "nav": "ssh",
        "target": target,
        "ws_path": f"/apps/{app.name}/ssh/ws",
        "idle_minutes": services.idle_timeout() // 60,
    }
    return render(request, "console/ssh.html", ctx)
