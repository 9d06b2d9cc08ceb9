"""The periodic health check of running apps (Celery beat "berth-health",
every BERTH_HEALTH_INTERVAL seconds).

Each running app's serving container gets the same request as the start-up
check (apps.lifecycle.health.probe: the health check path, Host
WEBSITE_HOSTNAME, 200-399 unless configured). What it sees is kept as
HealthEvent rows for diagnostics: each failure, the recovery after one, an
out-of-memory kill, and the restart made when BERTH_HEALTH_FAILURES checks
in a row failed. Apps being deployed or restarted are skipped: their worker
owns them.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.deployments.models import Deployment, HealthEvent  # records: see deploylog.py
from apps.engine.errors import EngineError
from apps.lifecycle import containers, locks
from apps.lifecycle import health as probe
from apps.lifecycle import operations as lifecycle_ops
from apps.webapps.models import WebApp

logger = logging.getLogger(__name__)

KEEP = 500  # events per app


def failures_in_a_row(app: WebApp) -> int:
    """Failed checks since the last success, recovery or restart."""
    count = 0
    for kind in HealthEvent.objects.filter(app=app).values_list("kind", flat=True)[:100]:
        if kind == HealthEvent.Kind.OOM:
            continue
        if kind != HealthEvent.Kind.FAILED:
            break
        count += 1
    return count


def _record(app: WebApp, kind: str, *, ok: bool, container: str, code=None, detail="") -> None:
    HealthEvent.objects.create(
        app=app, kind=kind, ok=ok, container=container, status_code=code, detail=detail
    )
    old = HealthEvent.objects.filter(app=app).values_list("pk", flat=True)[KEEP:]
    if ids := list(old[:1000]):
        HealthEvent.objects.filter(pk__in=ids).delete()


def check(app: WebApp) -> str:
    """Check one app; returns what happened in one line ("" when all is well)."""
    active = lifecycle_ops.active_deployment(app)
    if app.state != WebApp.State.RUNNING or active is None or not active.container:
        return ""
    if not active.host_port or locks.is_locked(app.name):
        return ""
    container = active.container
    interval = float(settings.BERTH_HEALTH_INTERVAL)
    limits = containers.app_limits(app)
    out = []
    recent_oom = HealthEvent.objects.filter(
        app=app,
        kind=HealthEvent.Kind.OOM,
        container=container,
        at__gte=timezone.now() - timedelta(seconds=interval),
    ).exists()
    if not recent_oom and (
        oom := containers.oom_message(container, limits.memory_mb, time.time() - interval)
    ):
        _record(app, HealthEvent.Kind.OOM, ok=False, container=container, detail=oom)
        out.append(f"{container} {oom}")
    ok, code, what = probe.probe(app, active.host_port, timeout=10)
    if ok:
        last = HealthEvent.objects.filter(app=app).exclude(kind=HealthEvent.Kind.OOM).first()
        if last is not None and last.kind == HealthEvent.Kind.FAILED:
            _record(
                app,
                HealthEvent.Kind.RECOVERED,
                ok=True,
                container=container,
                code=code,
                detail=what,
            )
            out.append(f"{app.name} recovered: {what}")
        return "; ".join(out)
    _record(app, HealthEvent.Kind.FAILED, ok=False, container=container, code=code, detail=what)
    failed = failures_in_a_row(app)
    limit = max(1, int(settings.BERTH_HEALTH_FAILURES))
    out.append(f"{app.name}: health check failed ({failed} of {limit} in a row): {what}")
    if failed >= limit:
        outcome = lifecycle_ops.restart_app(
            app, reason=f"the health check failed {failed} times in a row ({what})"
        )
        _record(
            app,
            HealthEvent.Kind.RESTARTED,
            ok=outcome.ok,
            container=container,
            detail=f"After {failed} failed checks: {outcome.message}",
        )
        out.append(f"restarted {app.name}: {outcome.message}")
    return "; ".join(out)


def check_all() -> list[str]:
    done = []
    running = WebApp.objects.filter(
        state=WebApp.State.RUNNING,
        deployments__active=True,
        deployments__status=Deployment.Status.SUCCESS,
    ).distinct()
    for app in running:
        try:
            if line := check(app):
                done.append(line)
        except EngineError as e:
            done.append(f"{app.name}: the engine did not answer: {e.message}")
    for line in done:
        logger.info("health: %s", line)
    return done
