"""Celery tasks: thin. Load, call one service function."""

from __future__ import annotations

from celery import shared_task

from apps.databases import backups


@shared_task(name="databases.backup_due")
def backup_due() -> list[str]:
    """The scheduled backups: every app with a connection whose last backup
    is older than BERTH_BACKUP_INTERVAL_HOURS (beat runs this hourly)."""
    return backups.backup_due_apps()
