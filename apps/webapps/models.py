from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from apps.core.fields import EncryptedTextField
from apps.webapps.validators import (
    validate_app_name,
    validate_linux_fx_version,
    validate_setting_name,
)

DEFAULT_LINUX_FX_VERSION = "PYTHON|3.11"


class WebAppQuerySet(models.QuerySet["WebApp"]):
    def for_user(self, user) -> WebAppQuerySet:
        """The apps a user may see: staff see all, others those they own or
        hold a role on (apps.access: directly, through a group, or through
        the app's resource group)."""
        from apps.access.services import visible_q

        if not user.is_authenticated:
            return self.none()
        q = visible_q(user)
        return self if q is None else self.filter(q)


class WebApp(models.Model):
    class State(models.TextChoices):
        RUNNING = "Running"
        STOPPED = "Stopped"

    name = models.CharField(max_length=60, unique=True, validators=[validate_app_name])
    resource_group = models.CharField(max_length=90, default="default")
    linux_fx_version = models.CharField(
        "Stack",
        max_length=32,
        default=DEFAULT_LINUX_FX_VERSION,
        validators=[validate_linux_fx_version],
    )
    app_command_line = models.TextField("Startup command", blank=True, default="")
    state = models.CharField(max_length=16, choices=State.choices, default=State.RUNNING)
    health_check_path = models.CharField(max_length=255, blank=True, default="")
    deployment_branch = models.CharField(max_length=255, blank=True, default="")
    # Publishing credentials (Kudu's "deployment credentials"), for zip deploy
    # and git push with HTTP basic auth.
    publishing_username = models.CharField(max_length=80, blank=True, default="")
    publishing_password = EncryptedTextField(blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="webapps"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = WebAppQuerySet.as_manager()

    class Meta:
        ordering = ("name",)
        verbose_name = "web app"

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self.publishing_username:
            self.publishing_username = f"${self.name}"
        if not self.publishing_password:
            self.publishing_password = secrets.token_urlsafe(36)
        super().save(*args, **kwargs)

    @property
    def python_version(self) -> str:
        return self.linux_fx_version.partition("|")[2]

    @property
    def default_host_name(self) -> str:
        return f"{self.name}.{settings.BERTH_APPS_DOMAIN}"


class AppSetting(models.Model):
    app = models.ForeignKey(WebApp, on_delete=models.CASCADE, related_name="app_settings")
    name = models.CharField(max_length=1024, validators=[validate_setting_name])
    value = EncryptedTextField(blank=True, default="")
    slot_setting = models.BooleanField(default=False)

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(fields=("app", "name"), name="unique_app_setting_name")
        ]

    def __str__(self) -> str:
        return self.name


class ConnectionString(models.Model):
    class Type(models.TextChoices):
        # App Service's types, and the environment prefix each gets.
        MYSQL = "MySql", "MySQL"
        SQLSERVER = "SQLServer", "SQLServer"
        SQLAZURE = "SQLAzure", "SQLAzure"
        POSTGRESQL = "PostgreSQL", "PostgreSQL"
        CUSTOM = "Custom", "Custom"

    PREFIXES = {
        Type.MYSQL: "MYSQLCONNSTR_",
        Type.SQLSERVER: "SQLCONNSTR_",
        Type.SQLAZURE: "SQLAZURECONNSTR_",
        Type.POSTGRESQL: "POSTGRESQLCONNSTR_",
        Type.CUSTOM: "CUSTOMCONNSTR_",
    }

    app = models.ForeignKey(WebApp, on_delete=models.CASCADE, related_name="connection_strings")
    name = models.CharField(max_length=1024, validators=[validate_setting_name])
    value = EncryptedTextField(blank=True, default="")
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.CUSTOM)
    slot_setting = models.BooleanField(default=False)

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(fields=("app", "name"), name="unique_connection_string_name")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def env_name(self) -> str:
        return self.PREFIXES[self.Type(self.type)] + self.name
