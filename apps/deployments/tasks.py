"""Celery tasks: thin. Load by id, call one service function."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready

from apps.deployments import services
from apps.deployments.models import Deployment
from apps.lifecycle import defaultsite, locks, quota, reconcile
from apps.lifecycle import operations as lifecycle_ops
from apps.lifecycle import watch as health
from apps.webapps.models import Operation, WebApp

logger = logging.getLogger(__name__)


def enqueue(deployment: Deployment) -> None:
    """Run the queued deployment in a worker once the transaction commits."""
    deploy.delay_on_commit(deployment_id=deployment.pk)


def enqueue_restart(app_id: int, reason: str, operation_id: int) -> None:
    """Restart the app in a worker (apps.core.hooks.request_restart)."""
    restart.delay(app_id=app_id, reason=reason, operation_id=operation_id)


def rebuild_for_stack(app_id: int, previous: str, actor=None) -> int | None:
    """A stack change's rebuild (apps.core.hooks.request_rebuild), queued to
    run once the Save commits."""
    deployment_id = services.rebuild_for_stack(app_id, previous, actor)
    if deployment_id is not None:
        deploy.delay_on_commit(deployment_id=deployment_id)
    return deployment_id


def enqueue_default_site(app_id: int) -> None:
    """Serve a new app's default site (apps.core.hooks.app_created)."""
    default_site.delay(app_id=app_id)


@shared_task(name="deployments.default_site")
def default_site(*, app_id: int) -> None:
    app = WebApp.objects.filter(pk=app_id).first()
    if app is None:
        return  # deleted meanwhile
    try:
        with locks.app_lock(app.name, timeout=0):
            if done := defaultsite.serve(app):
                logger.info("%s", done)
    except locks.AppBusy:
        pass  # a deployment runs: it serves the app, or reconcile brings the default back


@shared_task(name="deployments.deploy")
def deploy(*, deployment_id: int) -> None:
    # A duplicate or retried task finds the row already claimed and does nothing.
    services.run_deployment(deployment_id)


@shared_task(name="deployments.restart")
def restart(*, app_id: int, reason: str = "", operation_id: int | None = None) -> None:
    # A duplicate or retried task finds the operation already claimed.
    lifecycle_ops.restart_app_by_id(app_id, reason=reason, operation_id=operation_id)


# The name it had when it lived in apps.logs, so queued tasks still run.
@shared_task(name="webapps.power")
def power(*, app_id: int, action: str, operation_id: int | None = None) -> None:
    """Start, stop or restart an app from the Overview's buttons (a restart
    waits for the new container's health check, far too long for a
    request); it records its steps in the operation the page shows."""
    app = WebApp.objects.get(pk=app_id)
    op = Operation.objects.filter(pk=operation_id, app=app).first() if operation_id else None
    if action == "stop":
        outcome = lifecycle_ops.stop_app(app, operation=op)
    elif action == "start":
        outcome = lifecycle_ops.start_app(app, operation=op)
    else:
        outcome = lifecycle_ops.restart_app(app, reason="restarted from the Overview", operation=op)
    logger.info("%s %s: %s", action.capitalize(), app.name, outcome.message)


@shared_task(name="deployments.reconcile_all")
def reconcile_all() -> None:
    reconcile.reconcile_all()


@shared_task(name="deployments.health_check_all")
def health_check_all() -> None:
    health.check_all()
    # The same pass measures /home (when due) and stops an app over its limit.
    quota.check_all()


@worker_ready.connect
def _reconcile_at_worker_start(sender=None, **kwargs) -> None:
    # After a crash or a dockerd restart: fail the deployments the dead worker
    # left behind and bring the apps back. As a task, so start-up isn't held.
    reconcile_all.delay()
