"""Make the engine and the proxy match what the portal shows, and the portal
match what really happened.

Run at worker start (apps.deployments.tasks, worker_ready), periodically
(the Celery beat entry "berth-reconcile") and by `python manage.py
reconcile`. Per app, under the app's deploy lock (an app being deployed or
restarted right now is skipped: its worker owns it):

- deployments left in building/deploying hold no lock, so their worker
  died: they are failed ("the worker stopped during the build"), their build
  container removed; queued ones older than a build could take are failed
  too (their task was lost). The serving release is not touched.
- so are restarts, starts and stops (apps.webapps.operations) left running
  by a worker or portal that died, and queued ones whose task was lost;
  each says which container still serves.
- a Running app whose active container is gone or dead is started again
  from the active release image (health-checked, like a restart); its other
  app containers (left half-started by a killed worker) are removed;
- a Running app whose container is not on the app's own network (made by
  an older Berth, on the shared one) is moved there: a new container on it,
  health-checked and routed before the old one goes, as a restart does;
- a Stopped app's containers are stopped and its route removed;
- the proxy redirects plain HTTP for exactly the apps saved HTTPS Only;
- the proxy route points at the serving container's current port (a
  restarted container can come back on another host port), and routes of
  apps that no longer exist or no longer run are removed.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.core import failures
from apps.deployments.models import Deployment  # the release record: see deploylog.py
from apps.engine import client as engine
from apps.engine.errors import EngineError
from apps.lifecycle import appnet, cutover, defaultsite, locks, release
from apps.lifecycle import operations as lifecycle_ops
from apps.lifecycle.deploylog import ScratchLog
from apps.lifecycle.errors import DeployFailed
from apps.proxy import nginx
from apps.webapps import operations
from apps.webapps.environment import container_port, start_time_limit
from apps.webapps.models import WebApp

logger = logging.getLogger(__name__)

WORKER_STOPPED = (
    "The worker stopped during the build (found by reconcile); the app still serves its "
    "previous release. Deploy again."
)
NEVER_PICKED_UP = (
    "No worker picked this deployment up in time (found by reconcile). Check that the "
    "worker runs (scripts/run.sh starts it), then deploy again."
)
ACTIVE = (Deployment.Status.BUILDING, Deployment.Status.DEPLOYING)


def _routing() -> bool:
    return bool(settings.BERTH_PROXY_ROUTING)


def _routes() -> dict[str, str]:
    if not _routing():
        return {}
    return nginx.routes()


def _set_route(app: WebApp, port: int) -> None:
    nginx.set_route(app.name, f"127.0.0.1:{port}")


def fail_stuck(app: WebApp) -> list[str]:
    """Fail the app's deployments no live worker is running. Call with the
    app's lock held: then nobody is building or deploying it."""
    done: list[str] = []
    now = timezone.now()
    stuck = list(Deployment.objects.filter(app=app, status__in=ACTIVE))
    cutoff = now - timedelta(seconds=locks.lock_wait_limit(start_time_limit(app)))
    lost = list(
        Deployment.objects.filter(app=app, status=Deployment.Status.QUEUED, created__lt=cutoff)
    )
    found = [(d, failures.WORKER_LOST, WORKER_STOPPED) for d in stuck]
    found += [(d, failures.NOT_PICKED_UP, NEVER_PICKED_UP) for d in lost]
    for d, code, why in found:
        was = d.status
        log = d.log + f"{now:%H:%M:%S} Deployment failed: {why}\n"
        d.fail(code, why, {"status": was}, from_statuses=(was,), log=log)
        try:
            engine.remove_container(f"berth-build-{app.name}-{d.pk}")
        except EngineError as e:
            logger.warning("Could not remove the build container of %s: %s", d, e.message)
        done.append(f"deployment {d.pk} ({was}) failed: {why}")
    return done


def fail_abandoned_operations(app: WebApp) -> list[str]:
    """Fail the app's operations no live worker or portal is running. Call
    with the app's lock held, as fail_stuck."""
    if not operations.unfinished(app).exists():
        return []
    active = lifecycle_ops.active_deployment(app)
    serving = ""
    if active and _container_status(active.container) in ("running", "restarting"):
        serving = active.container
    cutoff = timezone.now() - timedelta(seconds=locks.lock_wait_limit(start_time_limit(app)))
    return lifecycle_ops.abandon(app, serving=serving, queued_before=cutoff)


def _container_status(name: str) -> str:
    if not name:
        return "missing"
    try:
        return engine.container_state(name).status
    except EngineError:
        return "missing"


def _bring_back(app: WebApp, active: Deployment) -> str:
    """Start the active release again, as a restart does; the dead container
    goes first (it serves nothing) so the new one can take its name."""
    if active.container:
        cutover.remove_app_containers(app, [active.container])
    if not engine.image_exists(active.image):
        return (
            f"cannot bring {app.name} back: its release image {active.image} is gone; deploy again."
        )
    log = ScratchLog(active)
    try:
        started = release.run_release(app, active, log, name=f"berth-{app.name}-{active.pk}")
        cutover.swap(app, active, started, log)
    except (DeployFailed, EngineError) as e:
        return f"cannot bring {app.name} back: {e.message}"
    return f"container {active.container or '(none)'} was gone: started {started.container}"


def _misplaced(app: WebApp, container: str) -> bool:
    try:
        return appnet.misplaced(app.name, container)
    except EngineError:
        return False  # can't tell: leave it to the next round


def _move_to_own_network(app: WebApp, active: Deployment) -> str:
    """Start the active release on the app's own network beside the serving
    container, switch to it once healthy, then retire the old one."""
    log = ScratchLog(active)
    try:
        started = release.run_release(app, active, log)
        cutover.swap(app, active, started, log)
    except (DeployFailed, EngineError) as e:
        return f"cannot move {app.name} to its own network: {e.message}"
    return f"{app.name} moved to network {appnet.network_name(app.name)}: {started.container}"


def _sync_https_only(app: WebApp) -> list[str]:
    """The proxy redirects plain HTTP exactly for the apps saved HTTPS Only."""
    if not _routing():
        return []
    if (app.name in nginx.https_only_apps()) == app.https_only:
        return []
    nginx.set_https_only(app.name, app.https_only)
    return [f"{app.name}: HTTPS Only {'on' if app.https_only else 'off'} at the proxy"]


def _reconcile(app: WebApp) -> list[str]:
    done = fail_stuck(app)
    done += fail_abandoned_operations(app)
    app.refresh_from_db()
    done += _sync_https_only(app)
    active = lifecycle_ops.active_deployment(app)
    routes = _routes()
    if app.state != WebApp.State.RUNNING or active is None or not active.image:
        running = [
            c
            for c in engine.find_containers({"io.berth.app": app.name, "io.berth.role": "app"})
            if _container_status(c) in ("running", "restarting")
        ]
        if app.state != WebApp.State.RUNNING and running:
            cutover.retire_others(app)
            done.append(f"{app.name} is stopped: stopped {', '.join(running)}")
        if app.name in routes and app.state != WebApp.State.RUNNING:
            cutover.unroute(app)
            done.append(f"{app.name} is stopped: removed its route")
        if line := defaultsite.serve(app):
            done.append(line)
        return done
    status = _container_status(active.container)
    if status not in ("running", "restarting"):
        done.append(_bring_back(app, active))
        return done
    # Under the app's lock no release is starting: any other app container
    # is one a killed worker or portal left half-started (or never retired).
    if strays := cutover.retire_others(app, keep=active.container):
        done.append(f"{app.name}: removed {', '.join(strays)}, not the serving container")
    if _misplaced(app, active.container):
        done.append(_move_to_own_network(app, active))
        return done
    # Running: the proxy must point at its port, which can change when the
    # engine restarts the container.
    port = engine.published_port(active.container, container_port(app))
    if port and port != active.host_port:
        Deployment.objects.filter(pk=active.pk).update(host_port=port)
        done.append(f"{active.container} now listens on 127.0.0.1:{port}")
    if port and _routing() and routes.get(app.name) != f"127.0.0.1:{port}":
        _set_route(app, port)
        done.append(f"route {app.default_host_name} -> 127.0.0.1:{port}")
    return done


def reconcile(app: WebApp) -> list[str]:
    """What was changed to match, one line each (empty: all matched)."""
    try:
        with locks.app_lock(app.name, timeout=0):
            return _reconcile(app)
    except locks.AppBusy:
        return []  # a deploy or restart is running: it owns the app right now
    except EngineError as e:
        return [f"{app.name}: the engine did not answer: {e.message}"]


def reconcile_all() -> list[str]:
    done: list[str] = []
    names = set()
    for app in WebApp.objects.all():
        names.add(app.name)
        done += reconcile(app)
    if _routing():
        for name in set(_routes()) - names:
            nginx.remove_route(name)
            done.append(f"removed the route of {name}: no such app")
        for name in nginx.https_only_apps() - names:
            nginx.set_https_only(name, False)
    for line in done:
        logger.info("reconcile: %s", line)
    return done
