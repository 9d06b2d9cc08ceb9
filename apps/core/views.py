from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from apps.engine.client import engine_status


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness of the portal, its database and the Docker engine."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    engine = engine_status()
    return JsonResponse(
        {"database": "ok", "engine": {"reachable": engine.reachable, "message": engine.message}}
    )
