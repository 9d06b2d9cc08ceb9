"""App Service's default site ("Your web app is running and waiting for
your content"), served from the runtime image's /opt/defaultsite for an app
that has no release yet: from the moment it is created, and after a first
deployment that failed, until a release serves. The first release retires
it like any other app container."""

from __future__ import annotations

import contextlib
import logging
import time

import requests

from apps.deployments.models import Deployment  # the release record: see deploylog.py
from apps.engine import client as engine
from apps.engine import recipe
from apps.engine.errors import EngineError
from apps.engine.versions import image_tag
from apps.lifecycle import appnet, containers, cutover
from apps.lifecycle.errors import DeployFailed
from apps.lifecycle.release import start_container
from apps.lifecycle.steps import Started
from apps.webapps.environment import build_environment, container_port
from apps.webapps.models import WebApp

logger = logging.getLogger(__name__)

WAIT_FOR_HTTP = 30.0  # seconds: the default site starts in about one


class _Quiet:
    """The log the route step writes to; the default site keeps none."""

    def line(self, message: str) -> None:
        logger.info("%s", message)


def container_name(app: WebApp) -> str:
    return f"berth-{app.name}-default"


def wanted(app: WebApp) -> bool:
    """Running, and no release to serve."""
    return (
        app.state == WebApp.State.RUNNING
        and not Deployment.objects.filter(app=app, active=True).exists()
    )


def serve(app: WebApp) -> str:
    """Start the default site and route the app's address to it, if the app
    wants it and it is not already serving. Returns what it did ("" for
    nothing). Never raises: the default site is a courtesy, and an engine or
    proxy that fails it is logged (reconcile tries again). Call it with the
    app's lock held (apps.lifecycle.locks)."""
    if not wanted(app):
        return ""
    try:
        return _serve(app)
    except (EngineError, DeployFailed) as e:
        logger.warning("The default site of %s: %s", app.name, e.message)
        return ""


def _serve(app: WebApp) -> str:
    name = container_name(app)
    image = image_tag(app.python_version)
    if not engine.image_exists(image):
        return ""  # the first deploy builds the runtime image, then serves the app
    if engine.container_exists(name):
        if engine.container_state(name).status == "running":
            port = engine.published_port(name, container_port(app))
            if port:
                cutover.route(app, Started(name, port), _Quiet())
                return ""
        engine.remove_container(name)
    app_port = container_port(app)
    container = start_container(
        image,
        ["bash", "-c", recipe.DEFAULT_CMD],
        name=name,
        env=build_environment(app, instance_id=name),
        labels={"io.berth.app": app.name, "io.berth.deployment": "0", "io.berth.role": "app"},
        limits=containers.app_limits(app),
        # The runtime image's own files only: as the app's user, never root.
        guard=containers.Hardening(containers.RUN_AS, ()),
        network=appnet.ensure(app.name, app.python_version),
        app_port=app_port,
    )
    port = engine.published_port(container, app_port)
    deadline = time.monotonic() + WAIT_FOR_HTTP
    while port and time.monotonic() < deadline:
        if _answers(port):
            try:
                cutover.route(app, Started(container, port), _Quiet())
            except DeployFailed as e:
                engine.remove_container(container)
                logger.warning("The default site of %s: %s", app.name, e.message)
                return ""
            return f"{app.name}: the default site serves from {container}"
        time.sleep(0.1)
    logger.warning("The default site of %s did not answer in %.0f s", app.name, WAIT_FOR_HTTP)
    with contextlib.suppress(EngineError):
        engine.remove_container(container)
    return ""


def _answers(port: int) -> bool:
    """The default site's page answers (not the app's health check path:
    the default site has only /)."""
    session = requests.Session()
    session.trust_env = False  # 127.0.0.1, never through an HTTP proxy
    try:
        return session.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200
    except requests.RequestException:
        return False
