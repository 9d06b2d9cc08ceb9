from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.fields import EncryptedTextField


class ServiceConnection(models.Model):
    """One Service Connector connection: an app connected to a database
    service Berth runs, and the app settings the connection set."""

    class Target(models.TextChoices):
        POSTGRES = "postgres-flexible", "PostgreSQL (Azure Database for PostgreSQL flexible server)"
        REDIS = "redis", "Redis (Azure Cache for Redis)"

    class ClientType(models.TextChoices):
        DJANGO = "django", "Django"
        PYTHON = "python", "Python"

    app = models.ForeignKey(
        "webapps.WebApp", on_delete=models.CASCADE, related_name="service_connections"
    )
    name = models.CharField(max_length=60)
    target = models.CharField(max_length=30, choices=Target.choices)
    client_type = models.CharField(max_length=20, choices=ClientType.choices)
    # PostgreSQL: the database and the role (both named after the app);
    # Redis: the app's own Redis container.
    host = models.CharField(max_length=100)
    database = models.CharField(max_length=63, blank=True, default="")
    role = models.CharField(max_length=63, blank=True, default="")
    password = EncryptedTextField()
    # The app settings the connection set, so deleting it removes just those.
    setting_names = models.JSONField(default=list)
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ("app", "name")
        constraints = [
            models.UniqueConstraint(fields=("app", "name"), name="connection_name_unique"),
            models.UniqueConstraint(fields=("app", "target"), name="connection_target_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.app.name}/{self.name} -> {self.target}"
