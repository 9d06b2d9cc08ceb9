"""Celery tasks: thin. Load by id, call one service function."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready


@shared_task(name="deployments.deploy")
def deploy(*, deployment_id: int) -> None:
    from apps.deployments import services

    # A duplicate or retried task finds the row already claimed and does nothing.
    services.run_deployment(deployment_id)


@shared_task(name="deployments.restart")
def restart(*, app_id: int, reason: str = "", operation_id: int | None = None) -> None:
    from apps.deployments import services

    # A duplicate or retried task finds the operation already claimed.
    services.restart_app_by_id(app_id, reason=reason, operation_id=operation_id)


@shared_task(name="deployments.reconcile_all")
def reconcile_all() -> None:
    from apps.deployments import reconcile

    reconcile.reconcile_all()


@shared_task(name="deployments.health_check_all")
def health_check_all() -> None:
    from apps.deployments import health

    health.check_all()


@worker_ready.connect
def _reconcile_at_worker_start(sender=None, **kwargs) -> None:
    # After a crash or a dockerd restart: fail the deployments the dead worker
    # left behind and bring the apps back. As a task, so start-up isn't held.
    reconcile_all.delay()
