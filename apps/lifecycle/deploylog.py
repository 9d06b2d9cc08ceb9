"""A deployment's log (Deployment.log), written as a build or release goes,
masked and capped; ScratchLog is the same kept in memory, for restarts
that must not write over the deployment's build log."""

from __future__ import annotations

import time

from django.conf import settings
from django.utils import timezone

# Runs up on purpose: the release record is the Deployment model, which
# stays in apps.deployments so its table and migration history keep their
# Django app. apps.deployments.models imports nothing of the build, so this
# makes no circle; every module of this package that needs the record
# imports it the same way.
from apps.deployments.models import Deployment
from apps.webapps.environment import secret_values
from apps.webapps.masking import LineMasker, masker

FLUSH_EVERY = 0.5  # seconds: the page polling the log is at most this far behind


def cap_text(text: str, limit_bytes: int) -> str:
    """`text` if it fits in `limit_bytes` (UTF-8), else its head and tail
    lines with a "… N lines cut …" line between: how a build started and how
    it ended are what a reader needs."""
    if len(text.encode("utf-8")) <= limit_bytes:
        return text
    lines = text.splitlines(keepends=True)
    budget = max(limit_bytes - 100, 0) // 2
    head: list[str] = []
    used = 0
    for line in lines:
        n = len(line.encode("utf-8"))
        if used + n > budget:
            break
        head.append(line)
        used += n
    tail_lines: list[str] = []
    used = 0
    for line in reversed(lines[len(head) :]):
        n = len(line.encode("utf-8"))
        if used + n > budget:
            break
        tail_lines.append(line)
        used += n
    tail_lines.reverse()
    cut = len(lines) - len(head) - len(tail_lines)
    return "".join(head) + f"… {cut} lines cut …\n" + "".join(tail_lines)


def cap_build_log(text: str) -> str:
    """Deployment.log capped to BERTH_BUILD_LOG_MB."""
    return cap_text(text, max(int(float(settings.BERTH_BUILD_LOG_MB) * 1024 * 1024), 1024))


class DeploymentLog:
    """Deployment.log, kept up to date from the thread that owns the deployment
    (all database writes stay in that one thread). Secrets are masked over
    each line once it is complete, so a secret split across chunks (or
    across two lines) is still masked."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment_id = deployment.pk
        self.secrets = secret_values(deployment.app)
        self.text = deployment.log
        self.last_flush = 0.0
        self.dirty = False
        # Complete lines are masked once, as they come (a secret split
        # across two lines too): a flush masks only what is new.
        self.lines: LineMasker[None] = LineMasker(masker(self.secrets))
        self.done: list[str] = []  # the complete lines, masked
        self.read = 0  # how much of `text` went into `lines`

    def write(self, text: str) -> None:
        self.text += text
        self.dirty = True
        self.maybe_flush()

    def line(self, message: str) -> None:
        self.write(f"{timezone.now():%H:%M:%S} {message}\n")

    def maybe_flush(self) -> None:
        if self.dirty and time.monotonic() - self.last_flush >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        Deployment.objects.filter(pk=self.deployment_id).update(log=self.masked())
        self.last_flush = time.monotonic()
        self.dirty = False

    def masked(self) -> str:
        end = self.text.rfind("\n", self.read) + 1
        if end:
            for line in self.text[self.read : end - 1].split("\n"):
                self.done += [f"{masked}\n" for _, masked in self.lines.push(None, line)]
            self.read = end
        pending = "\n".join(self.lines.peek(self.text[self.read :]))
        return cap_build_log("".join(self.done) + pending)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.masked().splitlines()[-lines:])


class ScratchLog(DeploymentLog):
    """A restart's log: kept in memory and returned, not written over the
    deployment's build log."""

    def flush(self) -> None:
        self.dirty = False
