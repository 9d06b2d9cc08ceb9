from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from apps.engine import runtimes as runtime_catalog
from apps.webapps.forms import CreateWebAppForm
from apps.webapps.models import WebApp


def _get_app_for_user(request: HttpRequest, name: str) -> WebApp:
    return get_object_or_404(WebApp.objects.for_user(request.user), name=name)


@login_required
@require_GET
def app_list(request: HttpRequest) -> HttpResponse:
    apps = WebApp.objects.for_user(request.user)
    q = request.GET.get("q", "").strip()
    if q:
        apps = apps.filter(name__icontains=q)
    template = "webapps/list.html#app-table" if request.htmx else "webapps/list.html"
    return render(request, template, {"apps": apps, "q": q})


@login_required
@require_http_methods(["GET", "POST"])
def app_create(request: HttpRequest) -> HttpResponse:
    form = CreateWebAppForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        app = form.save(commit=False)
        app.owner = request.user
        app.save()
        return redirect("webapps:overview", name=app.name)
    return render(request, "webapps/create.html", {"form": form})


@login_required
@require_GET
def overview(request: HttpRequest, name: str) -> HttpResponse:
    app = _get_app_for_user(request, name)
    return render(request, "webapps/overview.html", {"app": app, "nav": "overview"})


@login_required
@require_GET
def runtimes(request: HttpRequest) -> HttpResponse:
    return render(request, "webapps/runtimes.html", {"runtimes": runtime_catalog.catalog()})
