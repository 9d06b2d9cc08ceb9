from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from apps.access.services import app_for
from apps.diagnostics import runner, services
from apps.webapps.models import WebApp


@login_required
@require_GET
def index(request: HttpRequest, name: str) -> HttpResponse:
    app = app_for(request.user, name)
    report = runner.diagnose(app)
    # "Run again" swaps just the report.
    template = "diagnostics/index.html#report" if request.htmx else "diagnostics/index.html"
    return render(request, template, {"app": app, "report": report, "nav": "diagnose"})


@login_required
@require_POST
def fix(request: HttpRequest, name: str, detector: str) -> HttpResponse:
    app = app_for(request.user, name, "write")
    try:
        action = services.pending_action(app, detector)
    except services.FixError as e:
        messages.error(request, e.message)
        return _back(request, app)
    if request.POST.get("confirm") != "yes":
        # Without JavaScript there was no confirm() dialog: ask on a page.
        return render(
            request,
            "diagnostics/confirm.html",
            {"app": app, "action": action, "detector": detector, "nav": "diagnose"},
        )
    try:
        message = services.apply_action(app, action)
    except services.FixError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, message)
    return _back(request, app)


def _back(request: HttpRequest, app: WebApp) -> HttpResponse:
    url = reverse("diagnostics:index", kwargs={"name": app.name})
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


@require_GET
def api_diagnostics(request: HttpRequest, name: str) -> JsonResponse:
    """GET /api/apps/<name>/diagnostics: the page's results as JSON."""
    # request.user is the session's or the bearer token's (apps.api.auth's
    # middleware sets it).
    user = request.user
    if not user.is_authenticated:
        return JsonResponse(
            {"error": "Authentication required: send Authorization: Bearer <token>."},
            status=401,
        )
    app = app_for(user, name)
    return JsonResponse(runner.diagnose(app).to_dict())
