"""Kudu-shaped deployment API and the local Git endpoint.

Both authenticate with the app's publishing credentials (HTTP basic) or a
user's API token (Bearer: `request.user`, set by apps.api.auth's middleware),
and find the app with apps.access.services.app_for. They are CSRF-exempt
because they take no cookies for writes: a session only reads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.access.services import READ, WRITE, PublishingCredential, app_for
from apps.core.worker import worker_state
from apps.deployments import gitrepo, intake, services, tasks
from apps.deployments.models import Deployment
from apps.webapps.models import WebApp

TRUE = ("1", "true", "yes")


def _caller(request: HttpRequest, *, write: bool):
    """Who asks: the app's publishing credentials, else the API token's user;
    a session's user only reads (these endpoints take no CSRF token)."""
    if credential := PublishingCredential.from_request(request):
        return credential
    if write and not getattr(request, "token_authenticated", False):
        return None
    return request.user


def _forbidden(name: str) -> HttpResponse:
    return JsonResponse(
        {
            "error": f"Your role on {name} allows reading only: ask an Owner for Contributor "
            "(or use the app's deployment credentials)."
        },
        status=403,
    )


def _unauthorized(name: str) -> HttpResponse:
    answer = JsonResponse(
        {"error": "Use the app's deployment credentials (HTTP basic) or an API token."},
        status=401,
    )
    # The name comes from the URL: keep only what a valid app name may hold,
    # so a crafted path can't put control characters into a header.
    safe = "".join(c for c in name if c.isascii() and (c.isalnum() or c == "-"))[:60]
    answer["WWW-Authenticate"] = f'Basic realm="Berth: {safe}"'
    return answer


def _with_app(write: bool | Callable[..., bool]):
    """Check access once for the view below: it gets (request, app, user, ...)
    or the caller gets 401/403. `write` may be a function of the request and the
    URL's other arguments, for a view whose need depends on what is asked."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, name: str, **kwargs) -> HttpResponse:
            needs_write = write(request, **kwargs) if callable(write) else write
            caller = _caller(request, write=needs_write)
            try:
                app = app_for(caller, name, WRITE if needs_write else READ)
            except PermissionDenied:
                return _forbidden(name)
            except Http404:
                # Not "not found": a git client asks for credentials on a 401.
                return _unauthorized(name)
            user = None if isinstance(caller, PublishingCredential) else caller
            return view(request, app, user, **kwargs)

        return wrapper

    return decorate


def _status_text(d: Deployment) -> str:
    """A queued deployment no worker will take says so (`berth webapp up` prints it)."""
    if d.status == Deployment.Status.QUEUED and not (state := worker_state()).running:
        return state.message
    return d.status_text


def deployment_json(request: HttpRequest, d: Deployment) -> dict:
    url = reverse("api:deployment", args=[d.app.name, d.pk])
    return {
        "id": d.pk,
        "status": d.status,
        "status_text": _status_text(d),
        # Why it failed, for machines (apps.core.failures), and what was seen.
        "failure_code": d.failure_code or None,
        "failure_evidence": d.failure_evidence or None,
        "complete": d.is_finished,
        "active": d.active,
        "source": d.source,
        # What the deployer claims (?author=, a commit's author), and who
        # they are as they authenticated: shown apart, never mixed.
        "author": d.author,
        "deployer": d.deployer.get_username() if d.deployer else "",
        "deployed_by": d.deployed_by,
        "message": d.message,
        "commit_id": d.commit_id,
        "image": d.image,
        "received_time": d.created.isoformat() if d.created else None,
        "start_time": d.started.isoformat() if d.started else None,
        "end_time": d.finished.isoformat() if d.finished else None,
        "url": request.build_absolute_uri(url),
        "log_url": request.build_absolute_uri(url + "/log"),
        "site_url": f"http://{d.app.default_host_name}/",
        # The pre-deployment check's findings (apps.diagnostics.precheck):
        # warnings never stop a deployment; the last one names the start-up rule.
        "precheck": d.precheck or [],
    }


@csrf_exempt
@require_POST
@_with_app(write=True)
def zipdeploy(request: HttpRequest, app: WebApp, user) -> HttpResponse:
    """Kudu's POST /api/zipdeploy: the body is the zip (or a multipart file).
    Synchronous unless ?isAsync=true."""
    upload = next(iter(request.FILES.values()), None) if request.FILES else request
    try:
        deployment = services.create_deployment(
            app,
            upload,
            deployer=user,
            author=request.GET.get("author", "") or (user.get_username() if user else "zipdeploy"),
            message=request.GET.get("message", ""),
        )
    except intake.BadZip as e:
        return JsonResponse({"error": e.message}, status=400)
    if request.GET.get("isAsync", "").lower() in TRUE:
        tasks.enqueue(deployment)
        answer = JsonResponse(deployment_json(request, deployment), status=202)
        answer["Location"] = reverse("api:deployment", args=[app.name, deployment.pk])
        return answer
    # Synchronous: do the work here (no worker needed), outside any transaction.
    deployment = services.run_deployment(deployment.pk)
    status = 200 if deployment.status == Deployment.Status.SUCCESS else 400
    return JsonResponse(deployment_json(request, deployment), status=status)


@require_GET
@_with_app(write=False)
def deployment_list(request: HttpRequest, app: WebApp, _user) -> HttpResponse:
    deployments = Deployment.objects.filter(app=app).select_related("app", "deployer")[:100]
    return JsonResponse([deployment_json(request, d) for d in deployments], safe=False)


@require_GET
@_with_app(write=False)
def deployment_detail(request: HttpRequest, app: WebApp, _user, pk: int) -> HttpResponse:
    d = get_object_or_404(Deployment.objects.select_related("app", "deployer"), app=app, pk=pk)
    return JsonResponse(deployment_json(request, d))


@require_GET
@_with_app(write=False)
def deployment_log(request: HttpRequest, app: WebApp, _user, pk: int) -> HttpResponse:
    """The build and start-up log as plain text (secrets are already masked)."""
    d = get_object_or_404(Deployment, app=app, pk=pk)
    return HttpResponse(d.log, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_POST
@_with_app(write=True)
def deployment_redeploy(request: HttpRequest, app: WebApp, user, pk: int) -> HttpResponse:
    """Redeploy an earlier release (rollback): its image, no rebuild. Async."""
    old = get_object_or_404(Deployment, app=app, pk=pk)
    # {"restoreSettings": true}: also put back the release's settings (rollback).
    restore = services.restore_settings_requested(request.body, request.GET)
    try:
        new = services.redeploy(old, deployer=user, restore_settings=restore)
    except ValueError as e:
        return JsonResponse({"error": str(e)}, status=400)
    except ValidationError as e:  # the release's settings cannot be restored today
        return JsonResponse({"error": " ".join(e.messages)}, status=400)
    tasks.enqueue(new)
    answer = JsonResponse({**deployment_json(request, new), "restoreSettings": restore}, status=202)
    answer["Location"] = reverse("api:deployment", args=[app.name, new.pk])
    return answer


def _git_pushing(request: HttpRequest, path: str) -> bool:
    # Pushing (receive-pack) needs write; fetching and cloning (upload-pack) read.
    return "git-receive-pack" in (path, request.GET.get("service"))


@csrf_exempt
@require_http_methods(["GET", "POST"])
@_with_app(write=_git_pushing)
def git_http(request: HttpRequest, app: WebApp, user, path: str) -> HttpResponseBase:
    """`git push http://<portal>/git/<name>.git`: git's smart HTTP through
    `git http-backend`; a push to the deployment branch deploys it. A clone
    or fetch streams git's answer (see gitrepo.serve)."""
    return gitrepo.serve(request, app, path, user=user)
