from __future__ import annotations

from django.db import models

from apps.webapps.models import WebApp


class AppMetric(models.Model):
    """One `docker stats` sample of an app's serving container. The Overview
    charts the last hour; older samples are deleted as new ones come."""

    app = models.ForeignKey(WebApp, on_delete=models.CASCADE, related_name="metrics")
    at = models.DateTimeField()
    cpu_percent = models.FloatField()
    memory_bytes = models.BigIntegerField()
    memory_limit = models.BigIntegerField(default=0)

    class Meta:
        ordering = ("at",)
        indexes = [models.Index(fields=("app", "at"), name="appmetric_app_at")]

    def __str__(self) -> str:
        return f"{self.app_id} {self.at:%H:%M:%S} cpu {self.cpu_percent}% mem {self.memory_bytes}"
