from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from apps.engine.client import engine_status

logger = logging.getLogger(__name__)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness of the portal, its database and the Docker engine: 200, or 503
    when the database does not answer (what a load balancer needs). Versions
    and the engine's message only for a signed-in user: they tell an attacker
    which exploits to try."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.exception("/healthz: the database did not answer")
        return JsonResponse({"database": "unavailable"}, status=503)
    engine = engine_status()
    detail = {"reachable": engine.reachable}
    if request.user.is_authenticated:
        detail["message"] = engine.message
    return JsonResponse({"database": "ok", "engine": detail})
