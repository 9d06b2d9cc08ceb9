"""Celery tasks: thin. Load by id, call one service function."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.logs import metrics

logger = logging.getLogger(__name__)


@shared_task(name="logs.sample_metrics")
def sample_metrics() -> int:
    """One CPU/memory sample of every running app; run it every minute with
    celery beat (the Overview also samples when it is looked at)."""
    return metrics.sample_all()
