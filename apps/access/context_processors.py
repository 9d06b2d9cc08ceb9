from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from apps.access import services
from apps.webapps.models import WebApp  # up to the app model: see apps.access.models


def _perms_for_request(request: HttpRequest) -> services.AppPerms:
    match = getattr(request, "resolver_match", None)
    name = match.kwargs.get("name") if match else None
    app = WebApp.objects.filter(name=name).first() if isinstance(name, str) else None
    if app is None:
        return services.AppPerms(None)
    return services.perms(request.user, app)


def app_perms(request: HttpRequest) -> dict:
    """`app_perms` for every page under /apps/<name>/: templates hide the
    buttons a role may not use (the views refuse them anyway). Lazy, so pages
    that never ask cost no query."""
    return {"app_perms": SimpleLazyObject(lambda: _perms_for_request(request))}
