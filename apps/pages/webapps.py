from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from apps.access.services import app_for
from apps.databases import connecting, connections, pending
from apps.engine import builders, tasks
from apps.engine import runtimes as runtime_catalog
from apps.webapps import services
from apps.webapps.forms import CreateWebAppForm
from apps.webapps.models import WebApp


@login_required
@require_GET
def app_list(request: HttpRequest) -> HttpResponse:
    visible = WebApp.objects.for_user(request.user)
    apps = visible
    q = request.GET.get("q", "").strip()
    if q:
        apps = apps.filter(name__icontains=q)
    # Filters as the portal's list has them: state, resource group, runtime stack.
    filters = {
        "state": request.GET.get("state", "").strip(),
        "resource_group": request.GET.get("resource_group", "").strip(),
        "runtime": request.GET.get("runtime", "").strip(),
    }
    if filters["state"]:
        apps = apps.filter(state=filters["state"])
    if filters["resource_group"]:
        apps = apps.filter(resource_group=filters["resource_group"])
    if filters["runtime"]:
        apps = apps.filter(linux_fx_version=filters["runtime"])
    ctx = {
        "apps": apps,
        "q": q,
        "filters": filters,
        "filtered": bool(q or any(filters.values())),
        "states": WebApp.State.choices,
        "resource_groups": visible.order_by("resource_group")
        .values_list("resource_group", flat=True)
        .distinct(),
        "runtimes": visible.order_by("linux_fx_version")
        .values_list("linux_fx_version", flat=True)
        .distinct(),
    }
    template = "webapps/list.html#app-table" if request.htmx else "webapps/list.html"
    return render(request, template, ctx)


@login_required
@require_http_methods(["GET", "POST"])
def app_create(request: HttpRequest) -> HttpResponse:
    form = CreateWebAppForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Through the service, so the API, the CLI and the page record it alike.
        try:
            with transaction.atomic():
                app = services.create_app(
                    name=form.cleaned_data["name"],
                    resource_group=form.cleaned_data["resource_group"],
                    linux_fx_version=form.cleaned_data["linux_fx_version"],
                    owner=request.user,
                    actor=request.user,
                )
                queued = _connect_services(app, form.cleaned_data, actor=request.user)
        except PermissionDenied as e:
            form.add_error("resource_group", str(e))
            return render(request, "webapps/create.html", {"form": form}, status=403)
        except connections.ConnectionProblem as e:
            # The app and its connections are made together, or not at all.
            form.add_error(None, f"Nothing was created: {e.message}")
            return render(request, "webapps/create.html", {"form": form}, status=e.status)
        if queued:
            messages.info(
                request,
                f"Created {app.name}; connecting it to {' and '.join(queued)} builds the "
                "service's image first: the progress shows here.",
            )
            return redirect("databases:connector", app.name)
        return redirect("webapps:overview", name=app.name)
    return render(request, "webapps/create.html", {"form": form})


def _connect_services(app: WebApp, data: dict, *, actor) -> list[str]:
    """ "Web App + Database": the connections the Create page asked for; the
    targets queued (the first connection to a service builds its image in
    the background, the Service Connector page shows its progress)."""
    queued = []
    for target, wanted in (
        ("postgres-flexible", data.get("database")),
        ("redis", data.get("cache")),
    ):
        if wanted:
            made = connecting.connect(
                app, target, client_type=data.get("client_type") or "", actor=actor
            )
            if isinstance(made, pending.Pending):
                queued.append(target)
    return queued


@login_required
@require_GET
def overview(request: HttpRequest, name: str) -> HttpResponse:
    app = app_for(request.user, name)
    return render(request, "webapps/overview.html", {"app": app, "nav": "overview"})


@login_required
@require_GET
def runtimes(request: HttpRequest) -> HttpResponse:
    return render(request, "webapps/runtimes.html", {"runtimes": runtime_catalog.catalog()})


@login_required
@require_POST
def runtime_build(request: HttpRequest, version: str) -> HttpResponse:
    # Building an image changes the whole server, not one app: staff only.
    if not request.user.is_staff:
        raise PermissionDenied("Only staff can build runtime images.")
    if version not in runtime_catalog.PYTHON_VERSIONS:
        raise Http404(f"Python {version} is not offered.")
    rt = runtime_catalog.runtime(version)
    if rt.status == runtime_catalog.Status.BUILDABLE:
        builders.mark_queued(version)
        tasks.build_runtime.delay_on_commit(version=version)
        messages.info(request, f"Building {rt.image}: {rt.detail}.")
    elif rt.status == runtime_catalog.Status.BUILDING:
        messages.info(request, f"{rt.image} is already being built.")
    elif rt.status == runtime_catalog.Status.READY:
        messages.info(request, f"{rt.image} is ready.")
    else:
        messages.error(request, f"{rt.image} cannot be built here: {rt.detail}")
    return redirect("webapps:runtimes")


@login_required
@require_GET
def runtime_progress(request: HttpRequest, version: str) -> HttpResponse:
    if version not in runtime_catalog.PYTHON_VERSIONS:
        raise Http404(f"Python {version} is not offered.")
    rt = runtime_catalog.runtime(version)
    response = render(request, "webapps/runtimes.html#progress", {"rt": rt})
    if rt.status != runtime_catalog.Status.BUILDING:
        # Done (or failed): stop polling and reload, so the row shows the outcome.
        response.status_code = HttpResponseStopPolling.status_code
        response["HX-Refresh"] = "true"
    return response
