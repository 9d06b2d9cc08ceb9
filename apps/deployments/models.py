from __future__ import annotations

import json

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.fields import EncryptedTextField
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
        # The active release's source built again on the stack a General
        # settings Save chose (apps.deployments.services.rebuild_for_stack).
        STACK = "stack", "Stack change"

    app = models.ForeignKey(WebApp, on_delete=models.CASCADE, related_name="deployments")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.ZIP)
    commit_id = models.CharField(max_length=64, blank=True, default="")
    author = models.CharField(max_length=255, blank=True, default="")
    message = models.TextField(blank=True, default="")
    deployer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Who the deployment is from, as they authenticated: a user's name, or the
    # app's deployment credentials. `author` is what the deployer claims
    # (?author=, a commit's author) and is shown apart from this.
    deployed_by = models.CharField(max_length=255, blank=True, default="")
    log = models.TextField(blank=True, default="")
    status_text = models.TextField(blank=True, default="")
    image = models.CharField(max_length=255, blank=True, default="")
    artifact = models.CharField(max_length=1024, blank=True, default="")
    active = models.BooleanField(default=False)
    # How the release starts (apps.lifecycle.startup.Detection as a dict),
    # and the container serving it with its 127.0.0.1 port.
    startup = models.JSONField(blank=True, default=dict)
    # The pre-deployment check's findings, made at intake before the build
    # (apps.diagnostics.precheck): warnings, then the start-up rule. Advice
    # only; also written at the top of `log`.
    precheck = models.JSONField(blank=True, default=list)
    container = models.CharField(max_length=255, blank=True, default="")
    host_port = models.PositiveIntegerField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    # The configuration in force when the release went live (app settings,
    # connection strings, startup command, Python version, who and when), as
    # JSON, encrypted at rest: setting values are secrets. Written once, at
    # success; a rollback can restore it (apps.deployments.snapshot).
    release_settings = EncryptedTextField(blank=True, default="")
    # A redeploy that restores a release's settings keeps the settings it
    # replaced here, to put them back if the redeploy fails.
    replaced_settings = EncryptedTextField(blank=True, default="")
    # Why it failed, for machines (apps.core.failures) and what was seen.
    failure_code = models.CharField(max_length=32, blank=True, default="")
    failure_evidence = models.JSONField(blank=True, default=dict)

    class Meta:
        ordering = ("-created",)

    def __str__(self) -> str:
        return f"{self.app.name} #{self.pk} ({self.status})"

    # --- the state machine: queued -> building -> deploying -> success | failed.
    # Each change is one conditional update (Healthchecks-style), so a
    # duplicate task or a late writer never moves a row twice; each returns
    # whether it moved this row.

    UNFINISHED = (Status.QUEUED, Status.BUILDING, Status.DEPLOYING)

    def _move(self, from_statuses: tuple[str, ...], **fields) -> bool:
        moved = (
            Deployment.objects.filter(pk=self.pk, status__in=from_statuses).update(**fields) == 1
        )
        if moved:
            for name, value in fields.items():
                setattr(self, name, value)
        return moved

    def start(self) -> bool:
        """Claim a queued deployment: queued -> building."""
        return self._move(
            (self.Status.QUEUED,), status=self.Status.BUILDING, started=timezone.now()
        )

    def begin_release(self) -> bool:
        """The image is ready: building -> deploying."""
        return self._move((self.Status.BUILDING,), status=self.Status.DEPLOYING)

    def succeed(self, text: str) -> bool:
        return self._move(
            (self.Status.BUILDING, self.Status.DEPLOYING),
            status=self.Status.SUCCESS,
            status_text=text,
            finished=timezone.now(),
            failure_code="",
            failure_evidence={},
        )

    def fail(
        self,
        code: str,
        text: str,
        evidence: dict | None = None,
        *,
        from_statuses: tuple[str, ...] = UNFINISHED,
        **fields,
    ) -> bool:
        """Fail it with a code from apps.core.failures, a sentence for the
        user and the evidence; only from `from_statuses` (any unfinished)."""
        return self._move(
            from_statuses,
            status=self.Status.FAILED,
            status_text=text,
            finished=timezone.now(),
            failure_code=code,
            failure_evidence=evidence or {},
            **fields,
        )

    @property
    def duration(self):
        if self.started and self.finished:
            return self.finished - self.started
        return None

    @property
    def claimed_author(self) -> str:
        """The author the deployer claims, when it is not who they are."""
        return self.author if self.author != self.deployed_by else ""

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCESS, self.Status.FAILED)

    @property
    def precheck_warnings(self) -> list[dict]:
        return [f for f in self.precheck or [] if f.get("level") == "warning"]

    @property
    def snapshot(self) -> dict:
        """The release's settings snapshot ({} for releases made before Berth kept one)."""
        if not self.release_settings:
            return {}
        try:
            return json.loads(self.release_settings)
        except ValueError:
            return {}


class HealthEvent(models.Model):
    """What the periodic health check saw: failures, recoveries and the
    restarts it made. Diagnostics reads these (a successful check after a
    success is not recorded: nothing happened)."""

    class Kind(models.TextChoices):
        FAILED = "failed", "Check failed"
        RECOVERED = "recovered", "Recovered"
        RESTARTED = "restarted", "Restarted"
        OOM = "oom", "Killed: out of memory"

    app = models.ForeignKey(WebApp, on_delete=models.CASCADE, related_name="health_events")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    ok = models.BooleanField(default=False)
    container = models.CharField(max_length=255, blank=True, default="")
    status_code = models.PositiveIntegerField(null=True, blank=True)
    detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ("-at", "-pk")

    def __str__(self) -> str:
        return f"{self.app.name} {self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"
