"""Access control (IAM): the app's role assignments, and adding and removing
them (the app's Owners; on its resource group, the group's Owners). Every
change is in the Activity log of each app it reaches."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.access import services
from apps.access.forms import GrantForm
from apps.access.models import DESCRIPTIONS, Role
from apps.webapps.models import WebApp


def _context(request: HttpRequest, app: WebApp, form: GrantForm | None = None) -> dict:
    user = request.user
    assignments = list(services.assignments_for(app))
    return {
        "app": app,
        "nav": "access",
        "form": form or GrantForm(),
        "assignments": assignments,
        "removable": {a.pk for a in assignments if services.may_change(user, app, a)},
        "my_role": services.role_for(user, app),
        "my_group_role": services.group_role(user, app.resource_group),
        "roles": [(role, DESCRIPTIONS[role]) for role in Role],
    }


@login_required
@require_GET
def access(request: HttpRequest, name: str) -> HttpResponse:
    app = services.app_for(request.user, name)
    return render(request, "access/access.html", _context(request, app))


@login_required
@require_POST
def add(request: HttpRequest, name: str) -> HttpResponse:
    app = services.app_for(request.user, name, services.MANAGE_ACCESS)
    form = GrantForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            assignment = services.grant(
                app,
                role=data["role"],
                user=data["user"],
                group=data["group"],
                resource_group=data["scope"] == "resource_group",
                actor=request.user,
            )
        except ValidationError as e:
            form.add_error(None, e)
        except PermissionDenied as e:
            # A group-wide grant from an app the user owns but whose group they don't.
            form.add_error("scope", str(e))
            return render(request, "access/access.html", _context(request, app, form), status=403)
        else:
            messages.success(request, f"Added: {assignment}.")
            return redirect("access:access", name=app.name)
    return render(request, "access/access.html", _context(request, app, form), status=400)


@login_required
@require_POST
def remove(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    app = services.app_for(request.user, name, services.MANAGE_ACCESS)
    assignment = get_object_or_404(services.assignments_for(app), pk=pk)
    text = str(assignment)
    services.revoke(app, assignment, actor=request.user)
    messages.success(request, f"Removed: {text}.")
    if not services.assignments_for(app).filter(role=Role.OWNER).exists():
        messages.warning(
            request, f"{app.name} has no Owner now: only staff can grant access to it."
        )
    if services.role_for(request.user, app) is None:
        # They removed their own last role: the app's pages are 404 to them now.
        return redirect("webapps:list")
    return redirect("access:access", name=app.name)
