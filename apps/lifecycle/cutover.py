"""Move traffic to a started release and retire the rest: the route moves
only once the proxy confirms it; if the proxy refuses, the new container
goes and the serving one keeps serving (DeployFailed, proxy_refused)."""

from __future__ import annotations

import contextlib
import logging

from django.conf import settings
from django.db import transaction

from apps.core import failures, hooks
from apps.deployments.models import Deployment  # the release record: see deploylog.py
from apps.engine import client as engine
from apps.engine.errors import EngineError
from apps.lifecycle.deploylog import DeploymentLog
from apps.lifecycle.errors import DeployFailed
from apps.lifecycle.steps import (
    DONE,
    RUNNING,
    STEP_RETIRE,
    STEP_SWITCH,
    Progress,
    Started,
    no_progress,
)
from apps.proxy import nginx
from apps.proxy.errors import ProxyError
from apps.webapps.models import WebApp

logger = logging.getLogger(__name__)


def route(app: WebApp, started: Started, log: DeploymentLog) -> str:
    """Point the front proxy at the new container and return what happened,
    in a few words, once the proxy confirms it (nginx took the config, or
    the proxy service applied it). If the proxy refuses, the route it had is
    put back and DeployFailed (code proxy_refused) says why: traffic has not
    moved, so the caller must not retire the serving container."""
    if not settings.BERTH_PROXY_ROUTING:
        return "proxy routing is off (BERTH_PROXY_ROUTING)"
    upstream = f"127.0.0.1:{started.host_port}"
    previous: str | None = None
    try:
        previous = nginx.routes().get(app.name)
        nginx.set_route(app.name, upstream)
    except ProxyError as e:
        _put_back_route(app, upstream, previous)
        raise DeployFailed(
            f"The proxy refused the route to {started.container}: {e.message} "
            "The app still serves its previous release.",
            code=failures.PROXY_REFUSED,
            evidence={"reason": e.message, "upstream": upstream, "container": started.container},
        ) from e
    log.line(f"Proxy: {app.default_host_name} -> {upstream}")
    return f"{app.default_host_name} -> {upstream}"


def _put_back_route(app: WebApp, upstream: str, previous: str | None) -> None:
    """After a refusal: if the new route was saved anyway (an external proxy
    service that did not apply it in time), save the one it replaced, so the
    proxy never later sends traffic to a container that is gone."""
    try:
        if nginx.routes().get(app.name) != upstream:
            return
        if previous:
            nginx.set_route(app.name, previous)
        else:
            nginx.remove_route(app.name)
    except ProxyError as e:
        logger.warning("Could not put back the proxy route of %s: %s", app.name, e.message)


def unroute(app: WebApp) -> None:
    if not settings.BERTH_PROXY_ROUTING:
        return
    try:
        nginx.remove_route(app.name)
    except ProxyError as e:
        logger.warning("Could not remove the proxy route of %s: %s", app.name, e.message)


def swap(
    app: WebApp,
    deployment: Deployment,
    started: Started,
    log: DeploymentLog,
    *,
    progress: Progress = no_progress,
) -> None:
    """The new container is healthy: route to it, and only once the proxy
    confirmed the route mark it active and retire the rest. If the proxy
    refuses, the new container is removed, the serving one keeps serving
    and DeployFailed (proxy_refused) is raised. Reports STEP_SWITCH and
    STEP_RETIRE to `progress`."""
    progress(STEP_SWITCH, RUNNING, f"to {started.container}")
    try:
        routed = route(app, started, log)
    except DeployFailed as e:
        log.line(f"{e.message} Removing the new container {started.container}.")
        with contextlib.suppress(EngineError):
            remove_app_containers(app, [started.container], stop_timeout=0)
        raise
    make_active(app, deployment, started.container, started.host_port)
    progress(STEP_SWITCH, DONE, f"{started.container} serves: {routed}")
    progress(STEP_RETIRE, RUNNING, "")
    retired = retire_others(app, keep=started.container, log=log)
    progress(STEP_RETIRE, DONE, retired_text(retired))


def make_active(
    app: WebApp, deployment: Deployment, container: str = "", host_port: int | None = None
) -> None:
    """Record `deployment` as the app's release (the one a start or restart
    runs), served by `container` ("" while the app is stopped)."""
    with transaction.atomic():
        Deployment.objects.filter(app=app, active=True).exclude(pk=deployment.pk).update(
            active=False
        )
        Deployment.objects.filter(pk=deployment.pk).update(
            active=True, container=container, host_port=host_port
        )
    deployment.active = True
    deployment.container, deployment.host_port = container, host_port


def retired_text(names: list[str]) -> str:
    return f"stopped and removed {', '.join(names)}" if names else "no other container was running"


def retire_others(app: WebApp, *, keep: str = "", log: DeploymentLog | None = None) -> list[str]:
    """Stop and remove the app's containers but `keep`; returns their names."""
    found = engine.find_containers({"io.berth.app": app.name, "io.berth.role": "app"})
    retired = [name for name in found if name != keep]
    remove_app_containers(app, retired, log=log)
    if log:
        for name in retired:
            log.line(f"Stopped and removed the previous container {name}.")
    return retired


def remove_app_containers(
    app: WebApp, names: list[str], *, stop_timeout: int = 5, log: DeploymentLog | None = None
) -> None:
    """Stop these app containers, keep their last lines in the log archive,
    then remove them: the engine forgets a container's output with it
    (through apps.core.hooks, which apps.logs fills: this layer does not
    import the log archive; an app being deleted skips this, its archive
    goes too). stop_timeout=0 kills at once."""
    for name in names:
        engine.stop_container(name, timeout=stop_timeout)
    for warning in hooks.keep_last_lines(app.name, names):
        if log:
            log.line(f"WARNING: {warning}.")
    for name in names:
        engine.remove_container(name)
