"""The app's "Service Connector" page: its connections (the settings each
set, values hidden), connect to PostgreSQL or Redis, validate, delete with a
choice to keep or drop the database. Thin: apps.databases.connections does
the work for the page, the API and the CLI alike."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from apps.access.services import READ, READ_SECRETS, WRITE, app_for
from apps.databases import backups, connecting, connections, pending
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
        "pending": pending.for_app(app.name),
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
        made = connecting.connect(
            app,
            target,
            client_type=request.POST.get("client_type", ""),
            name=request.POST.get("connection_name", "").strip(),
            actor=request.user,
        )
    except connections.ConnectionProblem as e:
        return _page(request, app, status=e.status, error=e.message)
    if isinstance(made, pending.Pending):
        messages.info(
            request,
            f"Connecting {app.name} to {made.target}: its service image is built first "
            "(a minute or more); the progress shows below.",
        )
        return redirect("databases:connector", app.name)
    messages.success(
        request,
        f"Connected {app.name} to {made.get_target_display()} as {made.name}: set "
        f"{', '.join(made.setting_names)}; the app restarts to take them.",
    )
    return redirect("databases:connector", app.name)


@login_required
@require_GET
def connector_progress(request: HttpRequest, name: str, target: str) -> HttpResponse:
    app = app_for(request.user, name, READ)
    state = pending.read(app.name, target)
    if state is None:
        raise Http404("No connection of this app is being made to that target.")
    response = render(request, "databases/connector.html#pending-row", {"app": app, "p": state})
    if not state.busy:
        # Done (or failed): stop polling and reload, so the page shows the outcome.
        response.status_code = HttpResponseStopPolling.status_code
        response["HX-Refresh"] = "true"
    return response


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


# Backups: list, back up now, restore (after a confirmation page).


@login_required
@require_GET
def backup_list(request: HttpRequest, name: str) -> HttpResponse:
    app = app_for(request.user, name, READ)
    ctx = {"app": app, "nav": "backups", "backups": backups.list_backups(app)}
    return render(request, "databases/backups.html", ctx)


@login_required
@require_POST
def backup_create(request: HttpRequest, name: str) -> HttpResponse:
    app = app_for(request.user, name, READ_SECRETS, what="Backing up")
    try:
        made = backups.create(app, actor=request.user)
    except backups.BackupProblem as e:
        messages.error(request, f"No backup was made: {e.message}")
    else:
        home = [] if made.home_files is None else [f"/home ({made.home_files} files)"]
        what = ", ".join(["configuration", *home, *(f"database {d}" for d in made.databases)])
        messages.success(request, f"Backup {made.name} made ({what}), {made.size} bytes.")
    return redirect("databases:backups", app.name)


@login_required
@require_http_methods(["GET", "POST"])
def backup_restore(request: HttpRequest, name: str, backup: str) -> HttpResponse:
    app = app_for(request.user, name, READ_SECRETS, what="Restoring a backup")
    found = next((b for b in backups.list_backups(app) if b.name == backup), None)
    if found is None:
        raise Http404("No such backup.")
    error = ""
    if request.method == "POST":
        target_name = request.POST.get("target", "").strip() or app.name
        try:
            target = app_for(request.user, target_name, WRITE, what="Restoring into")
        except Http404:
            error = f"There is no app {target_name!r} you can see: create it first."
        else:
            try:
                backups.restore(app, backup, target=target, actor=request.user)
            except backups.BackupProblem as e:
                error = e.message
            else:
                messages.success(
                    request,
                    f"Restored backup {backup} of {app.name} into {target.name}; "
                    "it restarts to take it.",
                )
                return redirect("databases:backups", target.name)
    ctx = {"app": app, "nav": "backups", "backup": found, "error": error}
    return render(request, "databases/backup_restore.html", ctx, status=400 if error else 200)
