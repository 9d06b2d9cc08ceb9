from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from apps.access.models import Role, RoleAssignment, visible_q
from apps.core.fields import EncryptedTextField
from apps.webapps.groups import DEFAULT_GROUP, ResourceGroupField, validate_resource_group
from apps.webapps.validators import (
    validate_app_name,
    validate_linux_fx_version,
    validate_setting_name,
)

DEFAULT_LINUX_FX_VERSION = "PYTHON|3.11"


class WebAppQuerySet(models.QuerySet["WebApp"]):
    def for_user(self, user) -> WebAppQuerySet:
        """The apps a user may see: staff see all, others those they hold a
        role on (apps.access: directly, through a group, or through the
        app's resource group)."""
        if not user.is_authenticated:
            return self.none()
        q = visible_q(user)
        return self if q is None else self.filter(q)


class WebApp(models.Model):
    class State(models.TextChoices):
        RUNNING = "Running"
        STOPPED = "Stopped"

    name = models.CharField(max_length=60, unique=True, validators=[validate_app_name])
    resource_group = ResourceGroupField(
        max_length=90, default=DEFAULT_GROUP, validators=[validate_resource_group]
    )
    linux_fx_version = models.CharField(
        "Stack",
        max_length=32,
        default=DEFAULT_LINUX_FX_VERSION,
        validators=[validate_linux_fx_version],
    )
    app_command_line = models.TextField("Startup command", blank=True, default="")
    state = models.CharField(max_length=16, choices=State.choices, default=State.RUNNING)
    health_check_path = models.CharField(max_length=255, blank=True, default="")
    # App Service's httpsOnly: plain HTTP gets a 301 to HTTPS at the proxy.
    https_only = models.BooleanField("HTTPS Only", default=False)
    deployment_branch = models.CharField(max_length=255, blank=True, default="")
    # Publishing credentials (Kudu's "deployment credentials"), for zip deploy
    # and git push with HTTP basic auth.
    publishing_username = models.CharField(max_length=80, blank=True, default="")
    publishing_password = EncryptedTextField(blank=True, default="")
    # Who created the app. It gives no role by itself: the creator gets an
    # ordinary Owner grant (see save), which Access control can remove.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="webapps"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    # What /home held when apps.lifecycle.quota last measured it (None: not yet).
    home_used_bytes = models.BigIntegerField(null=True, blank=True)
    home_measured = models.DateTimeField(null=True, blank=True)

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
        adding = self._state.adding
        with transaction.atomic():
            super().save(*args, **kwargs)
            if adding:
                # Whatever creates an app (page, API, CLI, admin, a test), its
                # creator holds Owner on it through a grant like any other.
                RoleAssignment.objects.create(
                    role=Role.OWNER, user_id=self.owner_id, app=self, created_by_id=self.owner_id
                )

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


class Operation(models.Model):
    """One restart, start or stop of an app and how far it got: what the
    Overview and the Configuration pages show while it runs and the API
    returns. apps.webapps.operations keeps it up to date from the code that
    does the work (apps.deployments.services and release)."""

    class Trigger(models.TextChoices):
        SETTINGS = "settings", "Application settings saved"
        GENERAL = "general", "General settings saved"
        RESTART = "restart", "Restart"
        START = "start", "Start"
        STOP = "stop", "Stop"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        # One word for success, as a Deployment has it (stored "success";
        # the page says "Succeeded", the API "succeeded" as before).
        SUCCESS = "success", "Succeeded"
        FAILED = "failed", "Failed"

    app = models.ForeignKey(WebApp, on_delete=models.CASCADE, related_name="operations")
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    reason = models.CharField(max_length=255, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    actor_name = models.CharField(max_length=150, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # [{"name", "status", "detail", "started", "finished"}], in the order they run.
    steps = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True, default="")  # the outcome, or why it failed
    app_log = models.TextField(blank=True, default="")  # the app's last lines (secrets masked)
    serving = models.CharField(max_length=255, blank=True, default="")  # container, at the end
    # Why it failed, for machines (apps.core.failures) and what was seen.
    failure_code = models.CharField(max_length=32, blank=True, default="")
    failure_evidence = models.JSONField(blank=True, default=dict)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created", "-pk")
        indexes = [models.Index(fields=("app", "-created"), name="operation_app_created")]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} of {self.app_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCESS, self.Status.FAILED)

    # --- the state machine: queued -> running -> success | failed. Each
    # change is one conditional update; each returns whether it moved the row.

    def _move(self, from_statuses: tuple[str, ...], **fields) -> bool:
        moved = Operation.objects.filter(pk=self.pk, status__in=from_statuses).update(**fields) == 1
        if moved:
            for name, value in fields.items():
                setattr(self, name, value)
        return moved

    def start(self) -> bool:
        """Claim a queued operation: queued -> running."""
        return self._move((self.Status.QUEUED,), status=self.Status.RUNNING, started=timezone.now())

    def succeed(self, message: str, **fields) -> bool:
        return self._move(
            (self.Status.RUNNING,),
            status=self.Status.SUCCESS,
            message=message,
            finished=timezone.now(),
            **fields,
        )

    def fail(
        self,
        code: str,
        message: str,
        evidence: dict | None = None,
        *,
        from_statuses: tuple[str, ...] = (Status.RUNNING,),
        **fields,
    ) -> bool:
        """Fail it with a code from apps.core.failures, a sentence for the
        user and the evidence; only from `from_statuses` (running)."""
        return self._move(
            from_statuses,
            status=self.Status.FAILED,
            message=message,
            finished=timezone.now(),
            failure_code=code,
            failure_evidence=evidence or {},
            **fields,
        )

    @property
    def kind(self) -> str:
        """What it does: a Save restarts the app, as the Restart button does."""
        return {self.Trigger.START: "Start", self.Trigger.STOP: "Stop"}.get(self.trigger, "Restart")

    @property
    def applies_settings(self) -> bool:
        return self.trigger in (self.Trigger.SETTINGS, self.Trigger.GENERAL)

    @property
    def seconds(self) -> float | None:
        if self.started is None:
            return None
        return ((self.finished or timezone.now()) - self.started).total_seconds()
