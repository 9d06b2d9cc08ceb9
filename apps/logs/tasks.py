"""Celery tasks: thin. Load by id, call one service function."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="logs.sample_metrics")
def sample_metrics() -> int:
    """One CPU/memory sample of every running app; run it every minute with
    celery beat (the Overview also samples when it is looked at)."""
    from apps.logs import metrics

    return metrics.sample_all()


@shared_task(name="webapps.power")
def power(*, app_id: int, action: str, operation_id: int | None = None) -> None:
    """Start, stop or restart an app from the Overview's buttons. The work is
    apps.deployments.services' (a restart waits for the new container's
    health check, far too long for a request); it records its steps in the
    operation the page shows."""
    from apps.deployments import services
    from apps.webapps.models import Operation, WebApp

    app = WebApp.objects.get(pk=app_id)
    op = Operation.objects.filter(pk=operation_id, app=app).first() if operation_id else None
    if action == "stop":
        outcome = services.stop_app(app, operation=op)
    elif action == "start":
        outcome = services.start_app(app, operation=op)
    else:
        outcome = services.restart_app(app, reason="restarted from the Overview", operation=op)
    logger.info("%s %s: %s", action.capitalize(), app.name, outcome.message)
