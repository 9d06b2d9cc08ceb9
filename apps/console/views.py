from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.access.services import WRITE, Refused, app_for
from apps.console import services
from apps.core.middleware import csp_update


# xterm.js draws the terminal with <style> elements it writes itself (its DOM
# renderer has no nonce option): allowed on this page only.
@csp_update(style_src_elem=["'self'", "'unsafe-inline'"])
@login_required
@require_GET
def ssh(request: HttpRequest, name: str) -> HttpResponse:
    # 404 for an app the user cannot see (its name does not leak); one they
    # can see but not change (a Reader) gets the page saying which role would
    # open it, as a 403.
    try:
        app = app_for(request.user, name, WRITE, what=services.WHAT)
    except Refused as e:
        return render(
            request,
            "console/ssh.html",
            {"app": e.app, "nav": "ssh", "refusal": e.message},
            status=403,
        )
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
