"""The Overview page: state, URL, runtime, how the app starts and why, the
last deployment, Start/Stop/Restart/Browse, and CPU and memory charts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from apps.access.services import app_for
from apps.audit.services import record
from apps.deployments import tasks
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.engine.errors import EngineError
from apps.lifecycle import containers, quota, startup
from apps.lifecycle import operations as lifecycle_ops
from apps.lifecycle.source import SourceTree
from apps.logs import metrics
from apps.pages.operations import operation_context
from apps.proxy import nginx
from apps.webapps import operations
from apps.webapps.models import Operation, WebApp

logger = logging.getLogger(__name__)

ACTIONS = {
    "start": "Start",
    "stop": "Stop",
    "restart": "Restart",
}


@dataclass(frozen=True)
class StartupInEffect:
    command: str
    rule: str
    fallback: str = ""  # the detected command a custom one falls back to
    looked_for: str = ""


def startup_in_effect(app: WebApp, active: Deployment | None) -> StartupInEffect | None:
    """What the serving release runs and which rule chose it, from the
    detection the deployment stored (apps.lifecycle.startup)."""
    if active is None or not active.startup:
        return None
    try:
        detection = startup.Detection.from_dict(active.startup)
    except TypeError:
        return None
    tree = SourceTree(frozenset())
    if active.artifact and Path(active.artifact).is_file():
        try:
            tree = SourceTree.from_zip(active.artifact)
        except (OSError, ValueError) as e:
            logger.info("Cannot read %s: %s", active.artifact, e)
    detected_rule = f"Detected {detection.rule}: {detection.reason}"
    looked_for = "; ".join(detection.looked_for)
    custom = startup.classify_custom(app.app_command_line, tree)
    if custom.kind in ("script", "command"):
        return StartupInEffect(
            custom.value,
            f"Custom {custom.explain} (General settings); if it exits, start-up falls back "
            "to the detected command",
            fallback=detection.command,
            looked_for=looked_for,
        )
    if custom.kind == "missing-file":
        return StartupInEffect(
            detection.command,
            f"{custom.explain}, so the detected command runs. {detected_rule}",
            looked_for=looked_for,
        )
    return StartupInEffect(detection.command, detected_rule, looked_for=looked_for)


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    status: str
    started_at: str
    restart_count: int
    message: str = ""


def container_info(name: str) -> ContainerInfo | None:
    if not name:
        return None
    try:
        state = engine.container_state(name)
    except EngineError as e:
        return ContainerInfo(name, "unknown", "", 0, e.message)
    return ContainerInfo(name, state.status, state.started_at, state.restart_count)


def _limits_context(app: WebApp, active: Deployment | None) -> dict:
    """The container's memory/CPU limits, and an out-of-memory kill if the
    serving container had one ("killed: out of memory (limit 256 MB)")."""
    limits = containers.app_limits(app)
    oom = ""
    if active and active.container:
        oom = containers.oom_message(active.container, limits.memory_mb)
    return {"limits": limits, "oom": oom}


def _browse_url(app: WebApp) -> str:
    return nginx.app_url(app.name)


def _context(request: HttpRequest, app: WebApp, **extra) -> dict:
    active = lifecycle_ops.active_deployment(app)
    last = Deployment.objects.filter(app=app).first()
    return {
        "app": app,
        "nav": "overview",
        "browse_url": _browse_url(app),
        "active": active,
        "last": last,
        "startup": startup_in_effect(app, active),
        "container": container_info(active.container if active else ""),
        **_limits_context(app, active),
        "home": quota.current(app),  # as last measured: no du per page view
        "charts": metrics.charts(app),
        "actions": ACTIONS,
        # The last restart/start/stop; the page reloads when a running one ends.
        **operation_context(app, operations.latest(app), reload_when_done=True),
        **extra,
    }


@login_required
@require_GET
def overview(request: HttpRequest, name: str) -> HttpResponse:
    app = app_for(request.user, name)
    confirm = request.GET.get("confirm", "")
    return render(
        request,
        "webapps/overview.html",
        _context(request, app, confirm=confirm if confirm in ACTIONS else ""),
    )


@login_required
@require_GET
def charts(request: HttpRequest, name: str) -> HttpResponse:
    """The charts partial; takes a fresh sample first when the last is old."""
    app = app_for(request.user, name)
    metrics.sample_if_stale(app)
    return render(
        request, "webapps/overview.html#charts", {"app": app, "charts": metrics.charts(app)}
    )


@login_required
@require_POST
def power(request: HttpRequest, name: str, action: str) -> HttpResponse:
    """Start, Stop or Restart, after a confirmation. A worker does each (a
    restart waits for a health check, and all of them wait for a deployment
    of the app that is running); the Overview shows its steps as they go."""
    app = app_for(request.user, name, "write")
    if action not in ACTIONS:
        raise Http404(f"Unknown action {action!r}.")
    overview_url = reverse("webapps:overview", args=[app.name])
    if request.POST.get("confirmed") != "1":
        # Without JavaScript the question is a section of the page.
        return redirect(f"{overview_url}?confirm={action}")
    record(
        app=app, action=f"app.{action}", actor=request.user, summary=f"{ACTIONS[action]} {app.name}"
    )
    op = operations.begin(app, Operation.Trigger(action), actor=request.user, reason=action)
    tasks.power.delay_on_commit(app_id=app.pk, action=action, operation_id=op.pk)
    verb = {"start": "Starting", "stop": "Stopping", "restart": "Restarting"}[action]
    what = (
        "its site stops answering."
        if action == "stop"
        else "a new container starts and takes over once it answers HTTP."
    )
    messages.success(request, f"{verb} {app.name}… {what}")
    if request.htmx:
        return HttpResponseClientRedirect(overview_url)
    return redirect(overview_url)
