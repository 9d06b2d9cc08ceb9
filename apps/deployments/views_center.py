"""The Deployment Center pages: zip upload, the local Git URL and its
credentials, the deployment list, a deployment's live build log, redeploy.

The work is apps.deployments.services' (H2's): these views parse, check
access, call it and render. Forms work without JavaScript; htmx polls the
log and the list while something runs and asks before a redeploy.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling

from apps.access.services import app_for
from apps.audit.services import record
from apps.core.worker import worker_state
from apps.deployments import intake, services, snapshot, tasks
from apps.deployments.models import Deployment
from apps.webapps.models import WebApp

HISTORY = 50  # deployments listed


class UploadForm(forms.Form):
    package = forms.FileField(
        label="Zip package",
        help_text="A .zip of your app's folder (requirements.txt at its root). "
        "Leave out virtual environments.",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    message = forms.CharField(
        label="Message", required=False, max_length=500, help_text="Optional: what changed."
    )


# --- progress ----------------------------------------------------------------

STAGES = [
    ("queued", "Queued"),
    ("building", "Building"),
    ("deploying", "Deploying"),
    ("done", "Done"),
]
STEP = re.compile(r"Step (\d+)/(\d+)")


@dataclass(frozen=True)
class Stage:
    key: str
    label: str
    state: str  # "done" | "current" | "failed" | "todo"


@dataclass(frozen=True)
class Progress:
    stages: list[Stage]
    percent: int
    label: str
    finished: bool
    failed: bool


def progress(d: Deployment) -> Progress:
    """Where a deployment is: queued -> building -> deploying -> success/failed."""
    order = ["queued", "building", "deploying", "done"]
    if d.status == Deployment.Status.SUCCESS:
        at, failed = 3, False
    elif d.status == Deployment.Status.FAILED:
        # A release image exists only after a successful build.
        at, failed = (2 if d.image else 1), True
    else:
        at, failed = order.index(d.status) if d.status in order else 0, False
    stages = []
    for i, (key, label) in enumerate(STAGES):
        if key == "done":
            label = "Failed" if failed else "Success"
        if failed and i == at:
            state = "failed"
        elif i < at or d.status == Deployment.Status.SUCCESS:
            state = "done"
        elif i == at:
            state = "current"
        else:
            state = "todo"
        stages.append(Stage(key, label, "failed" if failed and key == "done" else state))
    if d.status == Deployment.Status.QUEUED:
        # Say plainly when no worker will take it (none has said it is alive).
        percent, label = 5, worker_state().message or "Waiting for a worker"
    elif d.status == Deployment.Status.BUILDING and d.status_text.startswith("Queued:"):
        percent, label = 10, d.status_text  # waiting for a build slot
    elif d.status == Deployment.Status.BUILDING:
        steps = STEP.findall(d.log or "")
        if steps:
            n, total = (int(x) for x in steps[-1])
            percent, label = 15 + int(50 * n / (total + 1)), f"Building: step {n} of {total}"
        else:
            percent, label = 12, "Building"
    elif d.status == Deployment.Status.DEPLOYING:
        percent, label = 80, "Starting the new container and waiting for HTTP"
    else:
        percent, label = 100, d.get_status_display()
    return Progress(stages, percent, label, d.is_finished, failed)


# --- helpers -----------------------------------------------------------------


def _deployments(app: WebApp) -> QuerySet[Deployment]:
    return Deployment.objects.filter(app=app).select_related("deployer")


def git_url(request: HttpRequest, app: WebApp) -> str:
    return request.build_absolute_uri(f"/git/{app.name}.git")


def _center_context(request: HttpRequest, app: WebApp, **extra) -> dict:
    deployments = list(_deployments(app)[:HISTORY])
    queued = any(d.status == Deployment.Status.QUEUED for d in deployments)
    return {
        # A deployment waits for a worker that is not there: say so plainly.
        "no_worker": worker_state().message if queued else "",
        "app": app,
        "nav": "deployment",
        "form": UploadForm(),
        "deployments": deployments,
        "running": any(not d.is_finished for d in deployments),
        "git_url": git_url(request, app),
        "branch": app.deployment_branch or "main",
        "show_password": False,
        **extra,
    }


def _show_action(request: HttpRequest) -> str:
    # Revealing the publishing password is reading a secret.
    return "read_secrets" if request.GET.get("show") == "password" else "read"


def _showing_password(request: HttpRequest, app: WebApp) -> bool:
    """Does this request reveal the publishing password? Then it is in the
    Activity log, as `berth webapp deployment list-publishing-credentials
    --show-values` is (Azure lists "List Web App Publishing Credentials")."""
    if request.GET.get("show") != "password":
        return False
    record(
        app=app,
        action="publishingcredentials.list",
        actor=request.user,
        summary=f"Read the deployment password of {app.publishing_username} (Deployment Center)",
    )
    return True


def _no_store(response: HttpResponse) -> HttpResponse:
    # The page may carry the publishing password: keep it out of caches.
    response["Cache-Control"] = "no-store"
    return response


# --- the Deployment Center ---------------------------------------------------


@login_required
@require_GET
def center(request: HttpRequest, name: str) -> HttpResponse:
    app = app_for(request.user, name, _show_action(request))
    ctx = _center_context(request, app, show_password=_showing_password(request, app))
    return _no_store(render(request, "deployments/center.html", ctx))


@login_required
@require_GET
def history(request: HttpRequest, name: str) -> HttpResponse:
    """The deployment list partial; polled while a deployment runs."""
    app = app_for(request.user, name)
    ctx = _center_context(request, app)
    response = render(request, "deployments/center.html#history", ctx)
    if not ctx["running"]:
        response.status_code = HttpResponseStopPolling.status_code
    return response


@login_required
@require_POST
def upload(request: HttpRequest, name: str) -> HttpResponse:
    app = app_for(request.user, name, "write")
    form = UploadForm(request.POST, request.FILES)
    if form.is_valid():
        package = form.cleaned_data["package"]
        try:
            deployment = services.create_deployment(
                app,
                package,
                deployer=request.user,
                message=form.cleaned_data["message"] or f"Zip upload: {package.name}",
            )
        except intake.BadZip as e:
            form.add_error("package", e.message)
        else:
            record(
                app=app,
                action="deployment.zip",
                actor=request.user,
                summary=f"Zip deploy #{deployment.pk} ({package.name}, {package.size} bytes)",
            )
            tasks.enqueue(deployment)
            messages.success(
                request, f"{package.name} received: deployment #{deployment.pk} is queued."
            )
            _upload_check(request, deployment)
            return redirect("deployments:deployment", name=app.name, pk=deployment.pk)
    ctx = _center_context(request, app, form=form)
    return _no_store(render(request, "deployments/center.html", ctx, status=400))


def _upload_check(request: HttpRequest, deployment: Deployment) -> None:
    """Say before the build what is likely to go wrong, and which start-up
    rule will match: the pre-deployment check the intake ran (the same
    findings are at the top of the build log). Advice only."""
    for finding in deployment.precheck:
        if finding.get("level") == "warning":
            messages.warning(request, f"Pre-deployment check: {finding['message']}")
        elif finding.get("code") == "startup_rule":
            messages.info(request, f"Start-up rule: {finding['message']}")


@login_required
@require_GET
def credentials(request: HttpRequest, name: str) -> HttpResponse:
    """The credentials card; `?show=password` reveals the password."""
    app = app_for(request.user, name, _show_action(request))
    ctx = _center_context(request, app, show_password=_showing_password(request, app))
    if request.htmx:
        return _no_store(render(request, "deployments/center.html#credentials", ctx))
    return _no_store(render(request, "deployments/center.html", ctx))


@login_required
@require_POST
def credentials_reset(request: HttpRequest, name: str) -> HttpResponse:
    """A new publishing password; the old one stops working at once."""
    app = app_for(request.user, name, "write")
    center_url = reverse("deployments:center", args=[app.name])
    if request.POST.get("confirmed") != "1":
        return _no_store(
            render(
                request,
                "deployments/confirm.html",
                {
                    "app": app,
                    "nav": "deployment",
                    "title": "Reset the deployment credentials?",
                    "text": "Git remotes and scripts using the current password stop working "
                    "until you give them the new one.",
                    "action": reverse("deployments:credentials_reset", args=[app.name]),
                    "button": "Reset credentials",
                    "cancel": center_url,
                },
            )
        )
    app.publishing_password = secrets.token_urlsafe(36)
    app.save(update_fields=["publishing_password", "updated"])
    record(
        app=app,
        action="publishingcredentials.reset",
        actor=request.user,
        summary=f"Reset the deployment password of {app.publishing_username}",
    )
    messages.success(request, "New deployment credentials: the old password no longer works.")
    url = f"{center_url}?show=password#credentials"
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


# --- one deployment ----------------------------------------------------------


def _deployment_context(app: WebApp, d: Deployment) -> dict:
    return {"app": app, "nav": "deployment", "d": d, "progress": progress(d)}


@login_required
@require_GET
def deployment(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    app = app_for(request.user, name)
    d = get_object_or_404(_deployments(app), pk=pk)
    return render(request, "deployments/deployment.html", _deployment_context(app, d))


@login_required
@require_GET
def deployment_progress(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    """The status, progress and log partial, polled every second until the
    deployment finishes; then 286 tells htmx to stop."""
    app = app_for(request.user, name)
    d = get_object_or_404(_deployments(app), pk=pk)
    response = render(request, "deployments/_progress.html", _deployment_context(app, d))
    if d.is_finished:
        response.status_code = HttpResponseStopPolling.status_code
    return response


@login_required
@require_POST
def deployment_redeploy(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    """Roll back (or forward) to an earlier successful release, after a question."""
    app = app_for(request.user, name, "write")
    old = get_object_or_404(_deployments(app), pk=pk)
    action = reverse("deployments:deployment_redeploy", args=[app.name, old.pk])
    if request.POST.get("confirmed") != "1":
        saved = old.snapshot
        return render(
            request,
            "deployments/redeploy_confirm.html",
            {
                "app": app,
                "nav": "deployment",
                "old": old,
                "saved": saved,
                "diff": snapshot.diff(app, saved) if saved else None,
                "action": action,
                "cancel": reverse("deployments:center", args=[app.name]),
            },
        )
    restore = request.POST.get("restore_settings") in ("1", "on", "true")
    try:
        new = services.redeploy(old, deployer=request.user, restore_settings=restore)
    except (ValueError, ValidationError) as e:
        messages.error(request, str(e))
        url = reverse("deployments:deployment", args=[app.name, old.pk])
    else:
        record(
            app=app,
            action="deployment.redeploy",
            actor=request.user,
            summary=f"Redeploy of deployment #{old.pk} as #{new.pk}"
            + (" with its settings" if restore else ""),
        )
        tasks.enqueue(new)
        messages.success(request, f"Redeploying #{old.pk} as deployment #{new.pk}.")
        url = reverse("deployments:deployment", args=[app.name, new.pk])
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)
