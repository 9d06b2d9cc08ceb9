from __future__ import annotations

import json
import os
import socket
import time

from celery import shared_task
from django.conf import settings


def heartbeat_path():
    return settings.DATA_DIR / "worker-heartbeat.json"


@shared_task(name="core.heartbeat")
def heartbeat(*, token: str = "") -> None:
    """Record that a worker is alive and consuming; tests/test_celery_worker.py reads it."""
    path = heartbeat_path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"at": time.time(), "host": socket.gethostname(), "token": token}))
    os.replace(tmp, path)
