"""Start a release: a container from the release image beside the serving
one, under the app's limits, on the app's network, and wait until it
answers HTTP (the health check). Switching traffic and retiring the old
container is apps.lifecycle.cutover's.

Going live has four steps, in this order: start the new container, wait for
HTTP (the health check), switch traffic to it, stop the old one. run_release
and cutover.swap report each as it begins and ends to an optional `progress`
callback (apps.lifecycle.operations.Recorder, for restarts); a step that
fails raises DeployFailed instead of reporting its end.
"""

from __future__ import annotations

import contextlib
import secrets as pysecrets
import socket
import time
from pathlib import Path

from django.conf import settings

from apps.core import failures, hooks
from apps.deployments.models import Deployment  # the release record: see deploylog.py
from apps.engine import client as engine
from apps.engine.errors import EngineError, PortTaken
from apps.lifecycle import appnet, containers, health, startup, storage
from apps.lifecycle.cutover import remove_app_containers
from apps.lifecycle.deploylog import DeploymentLog
from apps.lifecycle.errors import DeployFailed
from apps.lifecycle.source import SourceTree
from apps.lifecycle.steps import (
    APP_PORT,
    DONE,
    RUNNING,
    STEP_HEALTH,
    STEP_START,
    Progress,
    Started,
    labels,
    no_progress,
)
from apps.webapps.environment import build_environment, container_port, mask, start_time_limit
from apps.webapps.models import WebApp
from apps.webapps.validators import environment_problem


def run_release(
    app: WebApp,
    deployment: Deployment,
    log: DeploymentLog,
    *,
    name: str = "",
    progress: Progress = no_progress,
) -> Started:
    """Start a container from the deployment's image beside the serving one
    and wait until it answers HTTP. On failure it is removed and DeployFailed
    says why, with the app's own last log lines (in the log and on the
    exception). Reports STEP_START and STEP_HEALTH to `progress`."""
    detection = startup.Detection.from_dict(deployment.startup)
    tree = SourceTree.from_zip(deployment.artifact) if _exists(deployment.artifact) else None
    script = startup.script(detection, app.app_command_line, tree)
    try:
        network = appnet.ensure(app.name, app.python_version)
    except EngineError as e:
        raise DeployFailed(
            f"{e.message} The app still serves its previous release.",
            code=failures.engine_code(e),
            evidence={"error": e.message},
        ) from e
    name = name or f"berth-{app.name}-{deployment.pk}"
    if engine.container_exists(name):
        name = f"{name}-{pysecrets.token_hex(3)}"
    for line in startup.describe(detection, app.app_command_line, tree).splitlines():
        log.line(line)
    limits = containers.app_limits(app)
    guard = containers.hardening(app, deployment.image)
    for note in limits.notes:
        log.line(f"WARNING: {note}")
    env = build_environment(app, instance_id=name)
    # The services connected to the app (apps.databases): attached to its
    # network, their CA mounted and named in the environment.
    extras = hooks.container_extras(app.name, network)
    env.update(extras.environment)
    for warning in extras.warnings:
        log.line(f"WARNING: {warning}")
    if stale := containers.stale_image_settings(app, deployment.image, env):
        log.line(
            f"WARNING: {deployment.image} was built before Berth kept app settings out of "
            f"release images; the old values of {', '.join(stale)} are blanked in the "
            "container. Deploy again for an image without them."
        )
        env.update(dict.fromkeys(stale, ""))
    log.line(
        f"Limits: {limits.describe()}. Capabilities dropped, no-new-privileges; "
        + (f"runs as uid {guard.user.partition(':')[0]}." if guard.user else "runs as root: ")
        + (guard.why_root + "." if guard.why_root else "")
    )
    container = ""
    app_port = container_port(app)
    home = storage.enabled(app)
    since = time.time()
    progress(STEP_START, RUNNING, f"{name} from {deployment.image}")
    try:
        # Values saved before Berth checked them may not be startable: say which.
        if problem := environment_problem(env):
            raise DeployFailed(
                problem + " (Configuration > Application settings)", code=failures.BAD_SETTINGS
            )
        _place_code(app, deployment, log, home)
        container = start_container(
            deployment.image,
            ["bash", "-c", script],
            name=name,
            env=env,
            labels=labels(app, deployment, "app"),
            limits=limits,
            guard=guard,
            network=network,
            app_port=app_port,
            mounts={**extras.mounts, **(storage.mounts(app) if home else {})},
        )
        port = engine.published_port(container, app_port)
        if not port:
            raise DeployFailed(
                f"Container {name} has no published port {app_port}.",
                code=failures.START_FAILED,
                evidence={"container": name},
            )
        log.line(f"Started container {name} on 127.0.0.1:{port}; waiting for HTTP.")
        progress(STEP_START, DONE, f"{name} on 127.0.0.1:{port}")
        progress(STEP_HEALTH, RUNNING, f"GET {health.health_url(app, port)[0]}")
        healthy = _health_check(app, name, port, log, app_port)
        progress(STEP_HEALTH, DONE, healthy)
    except (DeployFailed, EngineError) as e:
        message = e.message
        if isinstance(e, DeployFailed):
            code, evidence = e.code, dict(e.evidence)
        else:  # the engine could not create or start it
            code, evidence = failures.engine_code(e), {"error": e.message}
            if code == failures.ENGINE_ERROR:
                code = failures.START_FAILED
        if oom := containers.oom_message(name, limits.memory_mb, since):
            message = (
                f"Container {name} was {oom}: raise WEBSITE_MEMORY_LIMIT_MB or use less "
                f"memory. {message}"
            )
            code, evidence = (
                failures.OOM,
                {**evidence, "phase": "start", "limit_mb": limits.memory_mb},
            )
        app_log = ""
        with contextlib.suppress(EngineError):
            app_log = "\n".join(engine.container_logs(name, tail=40, timestamps=False))
            log.write("---- the app's last log lines ----\n" + app_log + "\n----\n")
        with contextlib.suppress(EngineError):
            remove_app_containers(app, [name], stop_timeout=0)
        if home and code != failures.BAD_SETTINGS:  # the code may have reached /home
            _put_back_code(app, deployment, log)
        masked = mask(app_log, log.secrets)
        if masked:
            evidence["last_lines"] = failures.last_lines(masked)
            if exception := failures.exception_line(masked):
                evidence["exception"] = exception
                message = f"{message} The app's log ends with: {exception}"
        raise DeployFailed(message, app_log=masked, code=code, evidence=evidence) from e
    return Started(name, port)


def _place_code(app: WebApp, deployment: Deployment, log: DeploymentLog, home: bool) -> None:
    """Put the release's code into the app's persistent /home (apps.lifecycle.storage),
    unless the app turned persistent storage off (`home` false)."""
    if not home:
        log.line(
            f"Persistent storage is off ({storage.SETTING}=false): this container's /home "
            "starts from the release image and is lost when it stops."
        )
        return
    serving = Deployment.objects.filter(app=app, active=True).exclude(container="").first()
    try:
        placed = storage.place_code(
            app,
            deployment.image,
            str(deployment.pk),
            serving=storage.Serving(serving.container, serving.image, str(serving.pk))
            if serving
            else None,
        )
    except storage.StorageError as e:
        raise DeployFailed(
            f"{e.message} The app still serves its previous release.",
            code=failures.STORAGE_FAILED,
            evidence={"volume": storage.volume_name(app), "error": e.message},
        ) from e
    for line in placed.lines():
        log.line(line)


def _put_back_code(app: WebApp, deployment: Deployment, log: DeploymentLog) -> None:
    """The new release did not start: put the serving release's code back
    into /home/site/wwwroot, so the container still serving runs its own."""
    serving = Deployment.objects.filter(app=app, active=True).exclude(pk=deployment.pk).first()
    if serving is None or not serving.image:
        return
    try:
        placed = storage.place_code(app, serving.image, str(serving.pk), undo=str(deployment.pk))
        log.line(
            f"Put release {serving.pk}'s code back into /home/site/wwwroot (it still serves)"
            + (
                f" and the app's {len(placed.restored)} replaced file(s)."
                if placed.restored
                else "."
            )
        )
    except storage.StorageError as e:
        log.line(f"WARNING: {e.message}")


def start_container(
    image: str,
    command: list[str],
    *,
    name: str,
    env: dict[str, str],
    labels: dict[str, str],
    limits: containers.Limits,
    guard: containers.Hardening,
    network: str,
    app_port: int,
    mounts: dict | None = None,
) -> str:
    """Create and start an app container under the app's limits, its
    `app_port` published on a fixed host port of 127.0.0.1: Docker keeps it
    when it restarts a crashed container, so the proxy's route stays right.
    Another process may take the port between our probe and the start: try
    a few."""

    def create() -> str:
        return engine.create_container(
            image,
            command,
            name=name,
            environment=env,
            labels=labels,
            mem_limit=f"{limits.memory_mb}m",
            nano_cpus=int(limits.cpus * 1e9),
            pids_limit=limits.pids,
            network=network,
            publish_port=app_port,
            host_port=_free_port(),
            restart=True,
            mounts=mounts or None,
            **guard.options(),
        )

    for _ in range(2):
        container = create()
        try:
            engine.start_container(container)
            return container
        except PortTaken:
            engine.remove_container(name)
    container = create()  # the last try: its failure is the caller's
    engine.start_container(container)
    return container


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _exists(path: str) -> bool:
    return bool(path) and Path(path).is_file()


def _health_check(
    app: WebApp, container: str, port: int, log: DeploymentLog, app_port: int = APP_PORT
) -> str:
    """Like App Service's warm-up: wait for a healthy answer on the health
    check path (200-399 unless configured), within the app's start time
    limit (WEBSITES_CONTAINER_START_TIME_LIMIT, else BERTH_START_TIME_LIMIT).
    An app that answers, but only with 5xx, for BERTH_HTTP_5XX_GRACE seconds
    fails then: it is up and broken, waiting longer only hides why.
    Returns what answered ("GET / answered 200 after 0.8 s")."""
    limit = start_time_limit(app)
    grace = float(settings.BERTH_HTTP_5XX_GRACE)
    started = time.monotonic()
    last = "no answer yet"
    last_status: int | None = None
    failing_since: float | None = None  # the first of an unbroken run of 5xx answers
    while time.monotonic() - started < limit:
        ok, last_status, what = health.probe(app, port)
        if ok:
            healthy = f"{what} after {time.monotonic() - started:.1f} s"
            log.line(f"Health check: {healthy}.")
            return healthy
        last = what
        now = time.monotonic()
        if last_status is not None and 500 <= last_status <= 599:
            failing_since = failing_since if failing_since is not None else now
            if now - failing_since >= grace:
                raise DeployFailed(
                    f"Container {container} answered only {last_status} for {grace:g} s "
                    f"({last}): the app starts, but fails every request; see the app's log "
                    "lines below. The app still serves its previous release.",
                    code=failures.HTTP_5XX,
                    evidence={"status": last_status, "last": last, "for_s": grace},
                )
        else:
            failing_since = None
        state = engine.container_state(container)
        if state.status in ("exited", "dead") or state.restart_count >= 2:
            raise DeployFailed(
                f"Container {container} stopped (exit code {state.exit_code}, restarted "
                f"{state.restart_count} times) before answering HTTP on port {app_port}: "
                "see the app's log lines below. The app still serves its previous release.",
                code=failures.EXITED,
                evidence={
                    "container": container,
                    "exit_code": state.exit_code,
                    "restart_count": state.restart_count,
                    "status": state.status,
                },
            )
        log.maybe_flush()
        # gunicorn usually answers within half a second: poll fast at first
        # (each poll is a refused connect on 127.0.0.1), then ease off.
        time.sleep(0.05 if time.monotonic() - started < 5 else 0.25)
    code = failures.START_TIMEOUT
    if last_status is not None:
        code = failures.HTTP_5XX if 500 <= last_status <= 599 else failures.HTTP_STATUS
    raise DeployFailed(
        f"Container {container} didn't respond to HTTP pings on port: {app_port} within "
        f"{limit} s ({last}), failing site start. The app still serves its previous release.",
        code=code,
        evidence={"limit_s": limit, "status": last_status, "last": last},
    )
