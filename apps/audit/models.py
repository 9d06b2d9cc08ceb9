from __future__ import annotations

import json

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    """Who changed what on which app, and when: the app's Activity log.

    Secret values (app settings, connection strings) are never stored here:
    `before`/`after` hold them as "***", so the log says *which* settings
    changed without becoming a second copy of them.
    """

    class Action(models.TextChoices):
        APP_CREATE = "app.create", "Create web app"
        APP_DELETE = "app.delete", "Delete web app"
        APP_SETTINGS = "appsettings.update", "Update application settings"
        CONNECTION_STRINGS = "connectionstrings.update", "Update connection strings"
        GENERAL_SETTINGS = "generalsettings.update", "Update general settings"
        DEPLOY_ZIP = "deployment.zip", "Zip deploy"
        REDEPLOY = "deployment.redeploy", "Redeploy a release"
        CREDENTIALS_RESET = "publishingcredentials.reset", "Reset publishing credentials"
        CREDENTIALS_LIST = "publishingcredentials.list", "List publishing credentials"
        ROLE_CREATE = "roleassignment.create", "Add role assignment"
        ROLE_DELETE = "roleassignment.delete", "Remove role assignment"
        SSH_OPEN = "ssh.open", "Open SSH session"
        SSH_CLOSE = "ssh.close", "Close SSH session"
        CONNECTION_CREATE = "connection.create", "Create service connection"
        CONNECTION_DELETE = "connection.delete", "Delete service connection"
        BACKUP_CREATE = "backup.create", "Create backup"
        BACKUP_RESTORE = "backup.restore", "Restore backup"

    created = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Kept as text too, so the history survives the user or the app being deleted.
    actor_name = models.CharField(max_length=150, blank=True, default="")
    app = models.ForeignKey(
        "webapps.WebApp",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    app_name = models.CharField(max_length=60, db_index=True)
    action = models.CharField(max_length=40, choices=Action.choices)
    summary = models.TextField(blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("-created", "-pk")
        indexes = [models.Index(fields=("app_name", "-created"), name="audit_app_created")]

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M:%S} {self.actor_name or 'system'} {self.action} {self.app_name}"

    def as_json(self) -> dict:
        return {
            "id": self.pk,
            "time": self.created.isoformat(),
            "user": self.actor_name or None,
            "app": self.app_name,
            "action": self.action,
            "operation": self.get_action_display(),
            "summary": self.summary,
            "before": self.before,
            "after": self.after,
        }

    @property
    def before_text(self) -> str:
        return json.dumps(self.before, indent=2, ensure_ascii=False)

    @property
    def after_text(self) -> str:
        return json.dumps(self.after, indent=2, ensure_ascii=False)
