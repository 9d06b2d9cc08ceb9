"""Celery tasks: thin. Load, call one service function."""

from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model

from apps.databases import backups, connections
from apps.webapps.models import WebApp


@shared_task(name="databases.backup_due")
def backup_due() -> list[str]:
    """The scheduled backups: every app whose last backup
    is older than BERTH_BACKUP_INTERVAL_HOURS (beat runs this hourly)."""
    return backups.backup_due_apps()


# The first connection to a service builds its image: a minute, or many on
# a slow archive.
@shared_task(name="databases.connect", time_limit=1800, soft_time_limit=1700)
def connect(*, app_id: int, target: str, client_type: str, name: str, actor_id: int | None) -> None:
    # Progress and the outcome go to DATA_DIR/connections/<app>/<target>.json.
    app = WebApp.objects.filter(pk=app_id).first()
    if app is None:
        return
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    connections.run_queued(app, target, client_type=client_type, name=name, actor=actor)
