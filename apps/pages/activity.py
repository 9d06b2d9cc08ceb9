from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.access.services import app_for
from apps.audit.models import AuditEvent


def _events(request: HttpRequest, app) -> tuple[QuerySet[AuditEvent], dict[str, str]]:
    """The app's events, narrowed by the ?action= and ?user= filters."""
    events = AuditEvent.objects.filter(app_name=app.name, created__gte=app.created)
    filters = {
        "action": request.GET.get("action", "").strip(),
        "user": request.GET.get("user", "").strip(),
    }
    if filters["action"]:
        events = events.filter(action=filters["action"])
    if filters["user"]:
        events = events.filter(actor_name=filters["user"])
    return events, filters


@login_required
@require_GET
def activity(request: HttpRequest, name: str) -> HttpResponse:
    app = app_for(request.user, name)
    events, filters = _events(request, app)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    users = (
        AuditEvent.objects.filter(app_name=app.name, created__gte=app.created)
        .exclude(actor_name="")
        .values_list("actor_name", flat=True)
        .distinct()
        .order_by("actor_name")
    )
    ctx = {
        "app": app,
        "nav": "activity",
        "page": page,
        "filters": filters,
        "actions": AuditEvent.Action.choices,
        "users": list(users),
        "query": request.GET.urlencode(),
    }
    template = "audit/activity.html#events" if request.htmx else "audit/activity.html"
    return render(request, template, ctx)


@login_required
@require_GET
def activity_json(request: HttpRequest, name: str) -> JsonResponse:
    app = app_for(request.user, name)
    events, filters = _events(request, app)
    response = JsonResponse(
        {"app": app.name, "filters": filters, "events": [e.as_json() for e in events]},
        json_dumps_params={"indent": 2, "ensure_ascii": False},
    )
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="{app.name}-activity.json"'
    return response
