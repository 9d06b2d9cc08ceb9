"""The Configuration pages: Application settings (app settings and connection
strings), General settings and Advanced edit.

Every save goes through apps.webapps.services, like the API and the CLI, and
asks first: saving restarts the app. Without JavaScript the question is a
confirmation section; with htmx it is the browser's confirm (hx-confirm),
which sends `confirmed=1`.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from apps.access.services import app_for
from apps.deployments.models import Deployment
from apps.engine import runtimes
from apps.lifecycle import storage
from apps.pages.operations import operation_context, shown_on_configuration
from apps.webapps import services
from apps.webapps.environment import storage_limit_mb
from apps.webapps.forms import (
    AdvancedEditForm,
    GeneralSettingsForm,
    Row,
    connection_strings_json,
    mark_changes,
    new_row_key,
    row_value,
    rows_from_post,
    rows_from_stored,
    settings_json,
    validate_rows,
)
from apps.webapps.models import ConnectionString, Operation, WebApp

log = logging.getLogger(__name__)

# The runtime catalog asks the engine (and may probe a registry); the page
# must not hang on it.
CATALOG_TIMEOUT = 4.0


def _runtime_catalog(timeout: float = CATALOG_TIMEOUT) -> tuple[list, str]:
    """(runtimes, notice): the catalog, or every known version without status."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(runtimes.catalog).result(timeout=timeout), ""
    except FutureTimeout:
        notice = f"The engine did not answer within {timeout:g} s: versions are listed without their status."
    except Exception as e:  # the page must still let the user pick a version
        log.warning("runtime catalog failed: %s", e)
        notice = (
            f"The runtime catalog is unavailable ({e}): versions are listed without their status."
        )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    fallback = [runtimes.Runtime(v, "status unknown") for v in runtimes.PYTHON_VERSIONS]
    return fallback, notice


def _saved_message(request: HttpRequest, app: WebApp, what: str) -> None:
    if app.state == WebApp.State.RUNNING:
        messages.success(
            request,
            f"{what} saved. Restarting {app.name}… it restarts to apply the change: "
            "its progress is below.",
        )
    else:
        messages.success(
            request, f"{what} saved. {app.name} is stopped: the change applies when it starts."
        )


def _done(request: HttpRequest, url: str) -> HttpResponse:
    # Don't redirect an htmx request: the redirected page would be swapped
    # into the form. Tell the browser to load it instead.
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _after_save(request: HttpRequest, app: WebApp, url: str, since) -> HttpResponse:
    """Back to the page, showing the restart this Save started (the services
    record it: apps.webapps.services.request_restart)."""
    op = Operation.objects.filter(app=app, actor=request.user, created__gte=since).first()
    return _done(request, f"{url}?operation={op.pk}" if op else url)


# --- Application settings ---------------------------------------------------


def _stored(app: WebApp) -> tuple[dict, dict]:
    return (
        {s.name: s for s in app.app_settings.all()},
        {cs.name: cs for cs in app.connection_strings.all()},
    )


def _find(rows: list[Row], key: str) -> Row | None:
    return next((r for r in rows if r.key == key), None)


def _apply_op(
    op: str, s_rows: list[Row], c_rows: list[Row], stored_s: dict, stored_c: dict
) -> None:
    """Change the pending state as one button asks; nothing is saved here."""
    verb, _, key = op.partition(":")
    if verb == "add-setting":
        s_rows.append(Row(key=new_row_key(), value="", editing=True))
        return
    if verb == "add-connection":
        c_rows.append(
            Row(key=new_row_key(), value="", editing=True, type=ConnectionString.Type.CUSTOM)
        )
        return
    if verb in ("show-all", "hide-all"):
        for rows, stored in ((s_rows, stored_s), (c_rows, stored_c)):
            for row in rows:
                row.shown = verb == "show-all"
                if row.shown and row.value is None and row.original in stored:
                    row.value = stored[row.original].value
        return
    for rows, stored, what in (
        (s_rows, stored_s, "The setting"),
        (c_rows, stored_c, "The connection string"),
    ):
        row = _find(rows, key)
        if row is None:
            continue
        if verb in ("show", "edit") and row.value is None and row.original in stored:
            # The value goes to the browser only now, because the user asked.
            row.value = stored[row.original].value
        if verb == "show":
            row.shown = True
        elif verb == "hide":
            row.shown = False
        elif verb == "edit":
            row.editing = True
        elif verb == "done":
            # Check this row's name now, so the error shows at the row.
            validate_rows(rows, stored, what)
            if not row.error:
                row.editing = False
        elif verb == "delete":
            row.deleted, row.editing = True, False
        elif verb == "undo":
            row.deleted = False
            if row.is_new:
                row.editing = True


def _config_context(app: WebApp, s_rows, c_rows, stored_s, stored_c, **extra) -> dict:
    mark_changes(s_rows, stored_s, services.KNOWN_SETTINGS)
    mark_changes(c_rows, stored_c)
    names = {r.name for r in s_rows if not r.deleted}
    missing_build = [(n, h) for n, h in services.KNOWN_SETTINGS.items() if n not in names]
    return {
        "app": app,
        "nav": "configuration",
        "tab": "appsettings",
        "setting_rows": s_rows,
        "connection_rows": c_rows,
        "connection_types": ConnectionString.Type.choices,
        "build_settings": services.KNOWN_SETTINGS,
        "missing_build_settings": missing_build,
        "pending": any(r.status for r in [*s_rows, *c_rows]),
        "any_shown": any(r.shown for r in [*s_rows, *c_rows]),
        **extra,
    }


@login_required
@require_http_methods(["GET", "POST"])
def configuration(request: HttpRequest, name: str) -> HttpResponse:
    # Every POST edits or reveals values: Contributors and Owners only.
    app = app_for(request.user, name, "read" if request.method == "GET" else "write")
    stored_s, stored_c = _stored(app)
    if request.method == "GET":
        s_rows = rows_from_stored(stored_s)
        c_rows = rows_from_stored(stored_c, connection=True)
        ctx = _config_context(app, s_rows, c_rows, stored_s, stored_c)
        ctx.update(operation_context(app, shown_on_configuration(request, app)))
        return render(request, "webapps/configuration.html", ctx)

    s_rows = rows_from_post(request.POST, "s")
    c_rows = rows_from_post(request.POST, "c", connection=True)
    op = request.POST.get("op", "")
    confirm = False
    if op in ("save", "save-confirmed"):
        ok_s = validate_rows(s_rows, stored_s, "The setting")
        ok_c = validate_rows(c_rows, stored_c, "The connection string")
        if ok_s and ok_c:
            # htmx asked with hx-confirm and sends confirmed=1; without
            # JavaScript the confirmation section's button says save-confirmed.
            if op == "save-confirmed" or request.POST.get("confirmed") == "1":
                return _save_rows(request, app, s_rows, c_rows, stored_s, stored_c)
            confirm = True
    elif op.startswith("add-") and op[4:] in services.KNOWN_SETTINGS:
        s_rows.append(Row(key=new_row_key(), name=op[4:], value="", editing=True))
    else:
        _apply_op(op, s_rows, c_rows, stored_s, stored_c)
    ctx = _config_context(app, s_rows, c_rows, stored_s, stored_c, confirm=confirm)
    ctx["has_errors"] = any(r.error for r in [*s_rows, *c_rows])
    template = "webapps/configuration.html"
    if request.htmx:
        template += "#config-form"
    return render(request, template, ctx)


def _save_rows(request, app, s_rows, c_rows, stored_s, stored_c) -> HttpResponse:
    settings = [
        services.SettingInput(r.name, row_value(r, stored_s), r.slot_setting)
        for r in s_rows
        if not r.deleted
    ]
    strings = [
        services.ConnectionStringInput(r.name, row_value(r, stored_c), r.type, r.slot_setting)
        for r in c_rows
        if not r.deleted
    ]
    url = reverse("webapps:configuration", args=[app.name])
    since = timezone.now()
    try:
        changed = services.save_configuration(
            app, settings=settings, connection_strings=strings, actor=request.user
        )
    except ValidationError as e:
        # validate_rows checks each row first; what is left is the whole
        # environment's size (or a race).
        messages.error(request, "Nothing was saved: " + " ".join(e.messages))
        return _done(request, url)
    if changed:
        _saved_message(request, app, "Application settings")
    else:
        messages.info(request, "Nothing to save: the settings are as they were.")
    return _after_save(request, app, url, since)


# --- Advanced edit ----------------------------------------------------------

ADVANCED_KINDS = {"appsettings": "Application settings", "connectionstrings": "Connection strings"}


@login_required
@require_http_methods(["GET", "POST"])
def configuration_advanced(request: HttpRequest, name: str, kind: str) -> HttpResponse:
    if kind not in ADVANCED_KINDS:
        raise Http404("Unknown kind of setting")
    # The editor shows every value: it needs read_secrets even to look.
    app = app_for(request.user, name, "read_secrets" if request.method == "GET" else "write")
    connection = kind == "connectionstrings"
    stored_s, stored_c = _stored(app)
    if request.method == "GET":
        text = connection_strings_json(stored_c) if connection else settings_json(stored_s)
        form = AdvancedEditForm(initial={"text": text}, connection=connection)
    else:
        form = AdvancedEditForm(request.POST, connection=connection)
    confirm = False
    if request.method == "POST" and form.is_valid():
        if request.POST.get("confirmed") == "1":
            return _save_advanced(request, app, form.items, connection)
        confirm = True
    ctx = {
        "app": app,
        "nav": "configuration",
        "tab": "appsettings",
        "kind": kind,
        "kind_label": ADVANCED_KINDS[kind],
        "connection": connection,
        "form": form,
        "confirm": confirm,
    }
    return render(request, "webapps/configuration_advanced.html", ctx)


def _save_advanced(request, app: WebApp, items: list[dict], connection: bool) -> HttpResponse:
    url = reverse("webapps:configuration", args=[app.name])
    since = timezone.now()
    try:
        if connection:
            services.replace_connection_strings(
                app,
                [
                    services.ConnectionStringInput(
                        i["name"], i["value"], i["type"], i["slot_setting"]
                    )
                    for i in items
                ],
                actor=request.user,
            )
        else:
            services.replace_app_settings(
                app,
                [services.SettingInput(i["name"], i["value"], i["slot_setting"]) for i in items],
                actor=request.user,
            )
    except ValidationError as e:
        messages.error(request, "Nothing was saved: " + " ".join(e.messages))
        return _done(request, url)
    _saved_message(
        request, app, ADVANCED_KINDS["connectionstrings" if connection else "appsettings"]
    )
    return _after_save(request, app, url, since)


# --- General settings -------------------------------------------------------


def _shown(value) -> str:
    """A general setting as the confirm table shows it."""
    if isinstance(value, bool):
        return "On" if value else "Off"
    return value


def _applied_at_once(app: WebApp, changes: list[tuple[str, str, str]]) -> str:
    """What a save with no restart did."""
    labels = {label for label, _, _ in changes}
    done = []
    if GeneralSettingsForm.base_fields["https_only"].label in labels:
        done.append(
            f"HTTPS Only is {'on' if app.https_only else 'off'} for {app.name}: "
            "the front proxy applied it at once"
        )
    if GeneralSettingsForm.base_fields["storage_limit_mb"].label in labels:
        done.append(
            f"the storage limit of {app.name} is {storage_limit_mb(app)} MB: the periodic "
            "check of /home uses it from now on"
        )
    text = "; ".join(done)
    return f"General settings saved. {text[:1].upper()}{text[1:]}, with no restart."


@login_required
@require_http_methods(["GET", "POST"])
def configuration_general(request: HttpRequest, name: str) -> HttpResponse:
    app = app_for(request.user, name, "read" if request.method == "GET" else "write")
    runtimes, notice = _runtime_catalog()
    initial = {
        "linux_fx_version": app.linux_fx_version,
        "app_command_line": app.app_command_line,
        "health_check_path": app.health_check_path,
        "https_only": app.https_only,
        "storage_limit_mb": storage_limit_mb(app),
    }
    form = GeneralSettingsForm(
        request.POST or None, initial=initial, runtimes=runtimes, current=app.linux_fx_version
    )
    changes: list[tuple[str, str, str]] = []
    confirm = False
    restarts = True
    rebuilds = False
    if request.method == "POST" and form.is_valid():
        changes = [
            (form.fields[f].label, _shown(initial[f]), _shown(form.cleaned_data[f]))
            for f in initial
            if form.cleaned_data[f] != initial[f]
        ]
        rebuilds = (
            form.cleaned_data["linux_fx_version"] != initial["linux_fx_version"]
            and Deployment.objects.filter(app=app, active=True).exists()
        )
        restarts = any(
            form.cleaned_data[f] != initial[f]
            for f in initial
            if f not in services.NO_RESTART_FIELDS
        )
        if not changes:
            messages.info(request, "Nothing to save: the general settings are as they were.")
            return _done(request, reverse("webapps:configuration_general", args=[app.name]))
        if request.POST.get("confirmed") == "1":
            since = timezone.now()
            try:
                saved = services.update_general_settings(
                    app, actor=request.user, **form.cleaned_data
                )
            except ValidationError as e:
                form.add_error(None, e)
            else:
                if saved.rebuild_id is not None:
                    messages.success(
                        request,
                        f"General settings saved. Building {app.name} for "
                        f"{app.linux_fx_version}: it keeps serving on the old stack until "
                        "the new build answers. Its progress and log are below.",
                    )
                    return _done(
                        request,
                        reverse("deployments:deployment", args=[app.name, saved.rebuild_id]),
                    )
                if restarts:
                    _saved_message(request, app, "General settings")
                else:
                    messages.success(request, _applied_at_once(app, changes))
                url = reverse("webapps:configuration_general", args=[app.name])
                return _after_save(request, app, url, since)
        else:
            confirm = True
    selected = form["linux_fx_version"].value()
    ctx = {
        "app": app,
        "nav": "configuration",
        "tab": "general",
        "form": form,
        "runtimes": runtimes,
        "selected_runtime": next((rt for rt in runtimes if rt.config == selected), None),
        "catalog_notice": notice,
        "confirm": confirm,
        "changes": changes,
        "restarts": restarts,
        "rebuilds": rebuilds,
        "home_storage": storage.enabled(app),
        "home_volume": storage.volume_name(app),
        "home_setting": storage.SETTING,
        **operation_context(app, shown_on_configuration(request, app)),
    }
    return render(request, "webapps/configuration_general.html", ctx)
