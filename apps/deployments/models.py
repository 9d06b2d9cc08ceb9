from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.webapps.models import WebApp


class Deployment(models.Model):
    """One deployment, Kudu-style: intake, build, release. A successful build
    leaves an image; `active` marks the one serving."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        BUILDING = "building", "Building"
        DEPLOYING = "deploying", "Deploying"
        SUCCESS = "success", "Success"
        FAILED = "failed", "Failed"

    class Source(models.TextChoices):
        ZIP = "zip", "Zip deploy"
        GIT = "git", "Local Git"
        ROLLBACK = "rollback", "Redeploy"

    app = models.ForeignKey(WebApp, on_delete=models.CASCADE, related_name="deployments")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.ZIP)
    commit_id = models.CharField(max_length=64, blank=True, default="")
    author = models.CharField(max_length=255, blank=True, default="")
    message = models.TextField(blank=True, default="")
    deployer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    log = models.TextField(blank=True, default="")
    status_text = models.TextField(blank=True, default="")
    image = models.CharField(max_length=255, blank=True, default="")
    artifact = models.CharField(max_length=1024, blank=True, default="")
    active = models.BooleanField(default=False)
    # How the release starts (apps.deployments.startup.Detection as a dict),
    # and the container serving it with its 127.0.0.1 port.
    startup = models.JSONField(blank=True, default=dict)
    container = models.CharField(max_length=255, blank=True, default="")
    host_port = models.PositiveIntegerField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created",)

    def __str__(self) -> str:
        return f"{self.app.name} #{self.pk} ({self.status})"

    @property
    def duration(self):
        if self.started and self.finished:
            return self.finished - self.started
        return None

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCESS, self.Status.FAILED)
