"""The app's "Service Connector" page: its connections (the settings each
set, values hidden), connect to PostgreSQL or Redis, validate, delete with a
choice to keep or drop the database. Thin: apps.databases.connections does
the work for the page, the API and the CLI alike."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.access.services import READ, WRITE, app_for
from apps.databases import connections
from apps.databases.models import ServiceConnection

WHAT = "Changing service connections"


def _page(request: HttpRequest, app, *, status: int = 200, **extra) -> HttpResponse:
    rows = [
        {"connection": c, "settings": sorted(connections.settings_for(c))}
        for c in app.service_connections.all()
    ]
    ctx = {
        "app": app,
        "nav": "connector",
        "rows": rows,
        "targets": ServiceConnection.Target.choices,
        "client_types": ServiceConnection.ClientType.choices,
        "default_client_type": connections.DEFAULT_CLIENT_TYPE,
        **extra,
    }
    return render(request, "databases/connector.html", ctx, status=status)


@login_required
@require_GET
def connector(request: HttpRequest, name: str) -> HttpResponse:
    return _page(request, app_for(request.user, name, READ))


@login_required
@require_POST
def connector_create(request: HttpRequest, name: str) -> HttpResponse:
    app = app_for(request.user, name, WRITE, what=WHAT)
    target = request.POST.get("target", "")
    try:
        made = connections.create(
            app,
            target,
            client_type=request.POST.get("client_type", ""),
            name=request.POST.get("connection_name", "").strip(),
            actor=request.user,
        )
    except connections.ConnectionProblem as e:
        return _page(request, app, status=e.status, error=e.message)
    messages.success(
        request,
        f"Connected {app.name} to {made.get_target_display()} as {made.name}: set "
        f"{', '.join(made.setting_names)}; the app restarts to take them.",
    )
    return redirect("databases:connector", app.name)


@login_required
@require_POST
def connector_validate(request: HttpRequest, name: str, connection: str) -> HttpResponse:
    app = app_for(request.user, name, READ)
    try:
        result = connections.validate(app, connection)
    except connections.ConnectionProblem as e:
        return _page(request, app, status=e.status, error=e.message)
    return _page(request, app, validation=result)


@login_required
@require_POST
def connector_delete(request: HttpRequest, name: str, connection: str) -> HttpResponse:
    app = app_for(request.user, name, WRITE, what=WHAT)
    drop = request.POST.get("delete_database") == "on"
    try:
        deleted = connections.delete(app, connection, delete_database=drop, actor=request.user)
    except connections.ConnectionProblem as e:
        return _page(request, app, status=e.status, error=e.message)
    kept = "its data was deleted" if deleted.database_deleted else "its data is kept"
    messages.success(
        request,
        f"Deleted connection {deleted.name} and the settings it set; {kept}.",
    )
    for warning in deleted.warnings:
        messages.warning(request, warning)
    return redirect("databases:connector", app.name)
