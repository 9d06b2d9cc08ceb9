from __future__ import annotations

import os

from celery import Celery

from apps.core.worker import AliveStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("berth")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Each worker says it is alive (DATA_DIR/worker-alive.json) while it consumes:
# the pages, the API and the CLI say when none is.
app.steps["consumer"].add(AliveStep)
