"""Celery tasks: thin. Load by id, call one service function."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="deployments.restart")
def restart(*, app_id: int, reason: str = "") -> None:
    from apps.deployments import services

    services.restart_app_by_id(app_id, reason=reason)
