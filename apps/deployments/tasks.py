"""Celery tasks: thin. Load by id, call one service function."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="deployments.deploy")
def deploy(*, deployment_id: int) -> None:
    from apps.deployments import services

    # A duplicate or retried task finds the row already claimed and does nothing.
    services.run_deployment(deployment_id)


@shared_task(name="deployments.restart")
def restart(*, app_id: int, reason: str = "") -> None:
    from apps.deployments import services

    services.restart_app_by_id(app_id, reason=reason)
