"""Each app's storage limit at /home (issue 14): measured, and enforced by
stopping the app when it holds more.

The limit is the app setting WEBSITE_STORAGE_LIMIT_MB (also on the General
settings page), else BERTH_STORAGE_LIMIT_MB (1024 MB: 1 GiB). The engine
cannot hold a named volume to a size on this kind of host (the local volume
driver's `size` needs XFS with project quotas; a loop-mounted file system
per app needs Berth to be root on the host: see the README's "Storage
limit"), so Berth measures instead: the periodic health task
(deployments.health_check_all) runs `du` inside each running app's serving
container, at most every BERTH_STORAGE_INTERVAL seconds per app, keeps the
result on the app (WebApp.home_used_bytes, home_measured: what the Overview
shows, no measuring per page view) and, when /home holds more than the
limit, stops the app with the cause storage_full and its evidence on the
Stop operation. Nothing under /home is removed: raising the limit and
starting the app brings it back as it was.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from apps.audit.services import record
from apps.core import failures
from apps.engine import client as engine
from apps.engine.errors import EngineError
from apps.lifecycle import locks, storage
from apps.lifecycle import operations as lifecycle_ops
from apps.webapps.environment import storage_limit_mb
from apps.webapps.models import WebApp
from apps.webapps.validators import STORAGE_LIMIT_SETTING

logger = logging.getLogger(__name__)

MB = 1024 * 1024
SETTING = STORAGE_LIMIT_SETTING
# du as the container's own user (who owns /home), on /home's file system
# only, cut short if a huge tree takes longer than this.
DU_SECONDS = 30
DU = ["timeout", str(DU_SECONDS), "du", "-skx", storage.HOME]
_DU_TOTAL = re.compile(rf"^(\d+)\s+{re.escape(storage.HOME)}/?\s*$", re.MULTILINE)


class MeasureError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class HomeUsage:
    """The app's /home against its limit, as last measured."""

    enabled: bool  # persistent storage on (WEBSITES_ENABLE_APP_SERVICE_STORAGE)
    limit_bytes: int
    used_bytes: int | None  # None: not measured yet
    measured: datetime | None = None

    @property
    def limit_mb(self) -> int:
        return self.limit_bytes // MB

    @property
    def percent(self) -> int | None:
        if self.used_bytes is None:
            return None
        return round(100 * self.used_bytes / self.limit_bytes)

    @property
    def high_bytes(self) -> int:
        """Where the Overview's bar turns to a warning: 90% of the limit."""
        return self.limit_bytes * 9 // 10

    @property
    def over(self) -> bool:
        return self.used_bytes is not None and self.used_bytes > self.limit_bytes

    def describe(self) -> str:
        limit = storage.human_size(self.limit_bytes)
        if self.used_bytes is None:
            return f"not measured yet, limit {limit}"
        return f"{storage.human_size(self.used_bytes)} of {limit} ({self.percent}%)"


def limit_bytes(app: WebApp) -> int:
    return storage_limit_mb(app) * MB


def current(app: WebApp) -> HomeUsage:
    """What the last measurement saw (read from the app's row: no engine call)."""
    return HomeUsage(storage.enabled(app), limit_bytes(app), app.home_used_bytes, app.home_measured)


def parse_du(output: str) -> int | None:
    """Bytes from `du -sk /home`'s total line; None when there is none (errors
    about single unreadable files may come before it and are ignored)."""
    found = _DU_TOTAL.findall(output)
    return int(found[-1]) * 1024 if found else None


def measure(container: str) -> int:
    """How many bytes /home holds, measured in the app's running container."""
    try:
        code, output = engine.exec_quick(container, DU)
    except EngineError as e:
        raise MeasureError(f"could not run du in {container}: {e.message}") from e
    used = parse_du(output)
    if used is None:
        tail = " ".join(output.strip().splitlines()[-2:])[:300]
        raise MeasureError(f"du in {container} exited with code {code}: {tail}")
    return used


def stop_message(app: WebApp, used: int, limit: int) -> str:
    return (
        f"Stopped by Berth: /home holds {storage.human_size(used)}, more than its limit of "
        f"{storage.human_size(limit)} ({SETTING}={limit // MB}). Nothing was deleted. To bring "
        f"{app.name} back, raise the storage limit (Configuration › General settings) and "
        "start it; then remove what it does not need under /home (SSH console) if you want "
        "the limit lower again."
    )


def _due(app: WebApp, now: datetime) -> bool:
    if app.home_measured is None:
        return True
    return (now - app.home_measured).total_seconds() >= float(settings.BERTH_STORAGE_INTERVAL)


def check(app: WebApp, *, force: bool = False) -> str:
    """Measure a running app's /home when due (or `force`), keep the result,
    and stop the app when it holds more than its limit. Returns what
    happened in one line ("" when nothing was due or all is well)."""
    now = timezone.now()
    if app.state != WebApp.State.RUNNING or not storage.enabled(app):
        return ""
    if not force and not _due(app, now):
        return ""
    if locks.is_locked(app.name):  # a deployment or restart owns the app now
        return ""
    active = lifecycle_ops.active_deployment(app)
    if active is None or not active.container:
        return ""
    try:
        used = measure(active.container)
    except MeasureError as e:
        return f"{app.name}: /home not measured: {e.message}"
    WebApp.objects.filter(pk=app.pk).update(home_used_bytes=used, home_measured=now)
    app.home_used_bytes, app.home_measured = used, now
    limit = limit_bytes(app)
    if used <= limit:
        return ""
    evidence = {"used_bytes": used, "limit_bytes": limit, "volume": storage.volume_name(app)}
    message = stop_message(app, used, limit)
    # The Activity log shows it beside the stops users make (actor: none, Berth).
    record(
        app=app,
        action="app.stop",
        summary=message,
        after={"failure_code": failures.STORAGE_FULL, **evidence},
    )
    outcome = lifecycle_ops.stop_app(
        app,
        reason=f"/home is over its storage limit ({current(app).describe()})",
        cause=(failures.STORAGE_FULL, evidence),
        message=message,
    )
    return f"{app.name}: /home holds {used} bytes, over its limit of {limit}: {outcome.message}"


def check_all(*, force: bool = False) -> list[str]:
    done = []
    for app in WebApp.objects.filter(state=WebApp.State.RUNNING):
        try:
            if line := check(app, force=force):
                done.append(line)
        except EngineError as e:
            done.append(f"{app.name}: the engine did not answer: {e.message}")
    for line in done:
        logger.info("storage: %s", line)
    return done
