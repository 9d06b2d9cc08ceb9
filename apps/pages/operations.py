"""A restart, start or stop and its steps, as the Overview and the
Configuration pages show it: a status badge and a step progress bar that
htmx polls every second while it runs (apps.webapps.operations records it).

Without JavaScript the page shows the state it had when it was drawn, and a
link to draw it again.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseStopPolling

from apps.access.services import app_for
from apps.webapps import operations
from apps.webapps.models import Operation, WebApp

MAX_ID = 2**63 - 1  # BigAutoField: larger ids are no row (and no database error)


def operation_context(app: WebApp, op: Operation | None, *, reload_when_done: bool = False) -> dict:
    """What templates/webapps/_operation.html needs."""
    if op is None:
        return {"operation": None}
    return {
        "operation": op,
        "op_progress": operations.progress(op),
        "reload_when_done": reload_when_done,
    }


def shown_on_configuration(request: HttpRequest, app: WebApp) -> Operation | None:
    """The Configuration pages show the operation their Save started
    (?operation=<id>, where the Save redirects), else one still under way."""
    raw = request.GET.get("operation", "")
    if raw.isdigit() and int(raw) <= MAX_ID:
        op = Operation.objects.filter(app=app, pk=int(raw)).first()
        if op is not None:
            return op
    op = operations.latest(app)
    return op if op is not None and not op.is_finished else None


@login_required
@require_GET
@vary_on_headers("HX-Request")
def operation(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    """htmx: the panel, polled every second; 286 once the operation is over
    stops the polling (and with ?reload=1, the Overview reloads to show the
    new container). A plain request: a page with the panel."""
    app = app_for(request.user, name)
    if pk > MAX_ID:
        raise Http404("No such operation.")
    op = get_object_or_404(Operation, app=app, pk=pk)
    reload_when_done = request.htmx and request.GET.get("reload") == "1"
    ctx = {
        "app": app,
        "nav": "overview",
        **operation_context(app, op, reload_when_done=reload_when_done),
    }
    if not request.htmx:
        return render(request, "webapps/operation.html", ctx)
    response = render(request, "webapps/_operation.html", ctx)
    if op.is_finished:
        response.status_code = HttpResponseStopPolling.status_code
        if reload_when_done:
            response["HX-Refresh"] = "true"
    return response
