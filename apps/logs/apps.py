from __future__ import annotations

from django.apps import AppConfig


class LogsConfig(AppConfig):
    """Monitoring: the Log stream and the Overview's CPU and memory samples."""

    name = "apps.logs"
    label = "logs"
