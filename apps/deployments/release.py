"""Build a release image, start it beside the serving one, health-check it,
then switch the proxy and retire the old container.

Everything here talks to the engine through apps.engine.client and reports
progress into a DeploymentLog, which keeps Deployment.log at most a second
behind. A failure raises DeployFailed with a message for the user; the
serving container is only touched after the new one is healthy.

Going live has four steps, in this order: start the new container, wait for
HTTP (the health check), switch traffic to it, stop the old one. run_release
and swap report each as it begins and ends to an optional `progress`
callback (apps.webapps.operations.Recorder, for restarts); a step that
fails raises DeployFailed instead of reporting its end.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import logging
import os
import queue
import secrets as pysecrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core import failures, hooks
from apps.deployments import appnet, build, buildqueue, startup
from apps.deployments.intake import to_tar
from apps.deployments.models import Deployment
from apps.deployments.source import SourceTree
from apps.engine import client as engine
from apps.engine.errors import EngineError
from apps.engine.runtimes import image_tag
from apps.lifecycle import containers, health, storage
from apps.proxy import nginx
from apps.proxy.errors import ProxyError
from apps.webapps.environment import build_environment, mask, secret_values
from apps.webapps.masking import LineMasker, masker
from apps.webapps.models import WebApp
from apps.webapps.validators import environment_problem

logger = logging.getLogger(__name__)

# Each app's builds keep their wheels in a volume of its own, labelled with the
# app (deleting the app removes it): nothing one app's build writes is ever
# read by another's (issue 12, finding 2).
PIP_CACHE_VOLUME = "berth-pip-cache"
PIP_CACHE_DIR = "/var/cache/berth-pip"
CA_PATH = "/etc/berth/ca-certificates.crt"
APP_PORT = 8000
APP_PATH = "/home/site/wwwroot"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
FLUSH_EVERY = 0.5  # seconds: the page polling the log is at most this far behind


class DeployFailed(Exception):
    """A release step failed: `message` for the user, `code` for machines
    (apps.core.failures names them), `evidence` a small JSON-able
    dict of what was seen (exit code, status, limit, the proxy's reason)."""

    def __init__(
        self,
        message: str,
        *,
        app_log: str = "",
        code: str = failures.INTERNAL_ERROR,
        evidence: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.app_log = app_log  # the app's own last log lines, secrets masked
        self.code = code
        self.evidence = evidence or {}


# The steps of going live, in order, as a progress callback hears them:
# progress(step, state, detail) with state RUNNING when the step begins and
# DONE when it has ended well.
STEP_START, STEP_HEALTH, STEP_SWITCH, STEP_RETIRE = "start", "health", "switch", "retire"
RUNNING, DONE = "running", "done"
Progress = Callable[[str, str, str], None]


def _no_progress(step: str, state: str, detail: str) -> None:
    pass


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


def _labels(app: WebApp, deployment: Deployment, role: str) -> dict[str, str]:
    return {
        "io.berth.app": app.name,
        "io.berth.deployment": str(deployment.pk),
        "io.berth.role": role,
    }


def release_tag(app: WebApp, deployment: Deployment) -> str:
    return f"berth/app-{app.name}:{deployment.pk}"


def runtime_image(app: WebApp) -> str:
    tag = image_tag(app.python_version)
    if not engine.image_exists(tag):
        raise DeployFailed(
            f"The runtime image {tag} for Python {app.python_version} is not here yet: "
            f"run `python manage.py runtime ensure {app.python_version}` (or pick a ready "
            "version on the Configuration page), then deploy again.",
            code=failures.RUNTIME_MISSING,
            evidence={"image": tag, "python_version": app.python_version},
        )
    return tag


def _host_pip_config() -> dict[str, str]:
    """Index settings from the host's pip config that a container can use
    (http(s) URLs only: file:// indexes are paths on the host)."""
    parser = configparser.ConfigParser()
    files = ["/etc/pip.conf", "/etc/xdg/pip/pip.conf", str(Path.home() / ".config/pip/pip.conf")]
    if extra := os.getenv("PIP_CONFIG_FILE"):
        files.append(extra)
    with contextlib.suppress(configparser.Error):
        parser.read(files)
    found: dict[str, str] = {}
    for key, env in (
        ("index-url", "PIP_INDEX_URL"),
        ("extra-index-url", "PIP_EXTRA_INDEX_URL"),
        ("find-links", "PIP_FIND_LINKS"),
    ):
        value = os.getenv(env) or parser.get("global", key, fallback="")
        urls = [u for u in value.split() if u.startswith(("http://", "https://"))]
        if urls:
            found[env] = " ".join(urls)
    return found


def pip_cache_volume(app: WebApp) -> str:
    return f"{PIP_CACHE_VOLUME}-{app.name}"


def build_env(app: WebApp) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """The build's environment (app settings, as Oryx has them, plus pip's;
    given to the build's process only, never to the container, whose config
    the release image keeps) and mounts (CA bundle, the app's pip cache)."""
    env = build_environment(app)
    env.update(_host_pip_config())
    if settings.BERTH_PIP_INDEX_URL:
        env["PIP_INDEX_URL"] = settings.BERTH_PIP_INDEX_URL
    if settings.BERTH_PIP_EXTRA_INDEX_URL:
        env["PIP_EXTRA_INDEX_URL"] = settings.BERTH_PIP_EXTRA_INDEX_URL
    env.update(
        PIP_CACHE_DIR=PIP_CACHE_DIR,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_PROGRESS_BAR="off",
        PIP_ROOT_USER_ACTION="ignore",
        PIP_NO_INPUT="1",
    )
    mounts = {pip_cache_volume(app): (PIP_CACHE_DIR, "rw")}
    ca = settings.BERTH_BUILD_CA_BUNDLE
    if ca and Path(ca).is_file():
        mounts[str(Path(ca).resolve())] = (CA_PATH, "ro")
        env.update(PIP_CERT=CA_PATH, REQUESTS_CA_BUNDLE=CA_PATH, SSL_CERT_FILE=CA_PATH)
    return env, mounts


def ca_bundle_warning() -> str:
    """Why the build (uid 1000) cannot read BERTH_BUILD_CA_BUNDLE, or ""."""
    ca = settings.BERTH_BUILD_CA_BUNDLE
    if not ca or not Path(ca).is_file() or Path(ca).resolve().stat().st_mode & 0o004:
        return ""
    return (
        f"WARNING: the CA bundle {ca} (BERTH_BUILD_CA_BUNDLE) is not readable by other "
        "users; the build runs as uid 1000 and cannot read it, so pip may fail behind an "
        "intercepting proxy: chmod a+r it."
    )


def previous_release(app: WebApp, deployment: Deployment) -> build.PreviousRelease | None:
    """The release a new build may reuse: the active one, else the latest
    successful one, while its image is still here."""
    previous = (
        Deployment.objects.filter(app=app, status=Deployment.Status.SUCCESS)
        .exclude(image="")
        .exclude(pk=deployment.pk)
        .order_by("-active", "-created", "-pk")
        .first()
    )
    if previous is None:
        return None
    facts = engine.image_facts(previous.image)
    if facts is None:
        return None
    inputs, depth = build.parse_inputs(facts.labels)
    # A rollback's deployment points at an older image; name the build that made it.
    made_by = int(facts.labels.get("io.berth.deployment", previous.pk) or previous.pk)
    return build.PreviousRelease(made_by, previous.image, inputs, depth, facts.layers)


def build_release(
    deployment: Deployment, tree: SourceTree, detection: startup.Detection, log: DeploymentLog
) -> str:
    """Run the build in a container, commit it as the release image, return
    its tag. The container comes from the runtime image (a full build), or,
    when nothing the virtual environment depends on changed, from the previous
    release's image: its antenv is kept and only the code is replaced."""
    app = deployment.app
    # Values saved before Berth checked them cannot reach the build: say which.
    if problem := environment_problem(build_environment(app)):
        raise DeployFailed(
            problem + " (Configuration > Application settings)", code=failures.BAD_SETTINGS
        )
    runtime = runtime_image(app)
    app_settings = {s.name: s.value for s in app.app_settings.all()}
    facts = engine.image_facts(runtime)
    inputs = build.build_inputs(tree, app_settings, app.python_version, facts.id if facts else "")
    previous = previous_release(app, deployment)
    decision = build.decide_reuse(tree, app_settings, inputs, previous)
    if decision.message:
        log.line(decision.message)
    reuse = decision.reuse and previous is not None
    base = previous.image if reuse and previous else runtime
    script = build.script(tree, app_settings, decision.message if reuse else "")
    env, mounts = build_env(app)
    if warning := ca_bundle_warning():
        log.line(warning)
    engine.ensure_volume(
        pip_cache_volume(app),
        {"io.berth.app": app.name, "io.berth.role": "pip-cache"},
        owner=containers.RUN_AS,
        image=runtime,
    )
    name = f"berth-build-{app.name}-{deployment.pk}"
    engine.remove_container(name)  # a leftover from a crashed worker
    with _build_slot(deployment, log):
        return _build_in_container(
            deployment,
            tree,
            detection,
            log,
            name,
            base,
            script,
            env,
            mounts,
            inputs,
            decision,
            reuse,
        )


@contextlib.contextmanager
def _build_slot(deployment: Deployment, log: DeploymentLog):
    """Wait for one of BERTH_MAX_CONCURRENT_BUILDS build slots, saying so in
    the deployment's status and log."""

    def waiting(ahead: int) -> None:
        text = f"Queued: waiting for a build slot ({ahead} ahead)"
        log.line(
            f"{text}; {buildqueue.running()} build(s) running, at most "
            f"{buildqueue.slots()} at once (BERTH_MAX_CONCURRENT_BUILDS)."
        )
        log.flush()
        Deployment.objects.filter(pk=deployment.pk).update(status_text=text)

    started = time.monotonic()
    try:
        with buildqueue.build_slot(f"{deployment.app.name}-{deployment.pk}", on_wait=waiting):
            if time.monotonic() - started > 1:
                log.line(f"Got a build slot after {time.monotonic() - started:.0f} s.")
            Deployment.objects.filter(pk=deployment.pk).update(status_text="Building")
            yield
    except buildqueue.QueueTimeout as e:
        raise DeployFailed(
            e.message + " The app still serves its previous release.",
            code=failures.QUEUE_TIMEOUT,
            evidence={"waited_s": round(time.monotonic() - started)},
        ) from e


def _build_in_container(
    deployment: Deployment,
    tree: SourceTree,
    detection: startup.Detection,
    log: DeploymentLog,
    name: str,
    base: str,
    script: str,
    env: dict[str, str],
    mounts: dict[str, tuple[str, str]],
    inputs: dict[str, str],
    decision: build.ReuseDecision,
    reuse: bool,
) -> str:
    app = deployment.app
    app_settings = {s.name: s.value for s in app.app_settings.all()}
    cpus = float(settings.BERTH_BUILD_CPUS)
    log.line(
        f"Build container {name} from {base} (time limit {settings.BERTH_BUILD_TIMEOUT} s, "
        f"memory {settings.BERTH_BUILD_MEMORY}, {cpus:g} CPU; as uid {build.APP_UID}, "
        f"capabilities dropped, the app's own pip cache {pip_cache_volume(app)})"
    )
    # The container only waits (at most past the time limit, should Berth
    # die); the build runs in it through `docker exec`, with the app
    # settings in the exec's environment alone. `docker commit` keeps the
    # container's config (Env, Cmd) and its command in the image's history:
    # the settings and PRE_BUILD_COMMAND never get there.
    online = build.needs_network(app_settings, reuse)
    container = engine.create_container(
        base,
        ["sleep", str(int(settings.BERTH_BUILD_TIMEOUT) + 60)],
        name=name,
        environment={},
        labels=_labels(app, deployment, "build"),
        mem_limit=settings.BERTH_BUILD_MEMORY,
        nano_cpus=int(cpus * 1e9) if cpus > 0 else 0,
        # As unprivileged as the app's own container: another app's build
        # or image is out of reach whatever PRE_BUILD_COMMAND does.
        user=containers.RUN_AS,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        pids_limit=4096,
        # Offline (a reusing build without user commands): no pip, so no cache either.
        mounts=mounts if online else None,
        # On the app's own network, under the host rule like the app: a build
        # reaches the package index, never another app or the host's listeners.
        network=appnet.ensure(app.name, app.python_version) if online else "none",
    )
    try:
        prefix = build.STAGING if reuse else APP_PATH.lstrip("/")
        upload = to_tar(Path(deployment.artifact), prefix=prefix, owner=build.APP_UID)
        engine.put_archive(container, "/", upload)
        engine.start_container(container)
        if not reuse:  # a reused image has the name already
            engine.exec_quick(container, ["bash", "-c", build.NAME_THE_APP_USER], user="0")
        code = _stream_until_exit(container, log, settings.BERTH_BUILD_TIMEOUT, script, env)
        if code != 0:
            why = f"The build failed (exit code {code})."
            failure = failures.BUILD_FAILED
            evidence: dict = {"exit_code": code, "last_lines": failures.last_lines(log.masked())}
            oom = False
            with contextlib.suppress(EngineError):
                oom = engine.container_state(container).oom_killed
            if oom:
                failure = failures.OOM
                evidence.update(phase="build", limit=settings.BERTH_BUILD_MEMORY)
                why = (
                    f"The build was killed: out of memory (limit {settings.BERTH_BUILD_MEMORY}, "
                    "BERTH_BUILD_MEMORY)."
                )
            elif code == 137:
                why = (
                    f"The build was killed (exit code 137): out of memory? The limit is "
                    f"{settings.BERTH_BUILD_MEMORY} (BERTH_BUILD_MEMORY)."
                )
            raise DeployFailed(
                why + " The app still serves its previous release.",
                code=failure,
                evidence=evidence,
            )
        tag = release_tag(app, deployment)
        pythonpath = f"{APP_PATH}/antenv/lib/python{app.python_version}/site-packages"
        saving = time.monotonic()
        engine.stop_container(container, timeout=0)  # nothing the build started lives on
        engine.commit_container(
            container,
            tag,
            changes=[
                # The build's user would stay the image's: root, as the
                # runtime image, and the app's container says who it runs as.
                "USER root",
                f"WORKDIR {APP_PATH}",
                f"ENV PATH={APP_PATH}/antenv/bin:{BASE_PATH}",
                f"ENV PYTHONPATH={pythonpath}",
                "CMD " + _json_cmd(startup.script(detection, "", tree)),
            ],
            labels={
                **_labels(app, deployment, "release"),
                build.INPUTS_LABEL: json.dumps(inputs, sort_keys=True),
                build.DEPTH_LABEL: str(decision.depth if reuse else 0),
                containers.RUN_AS_LABEL: containers.RUN_AS,
            },
        )
        log.line(f"Release image {tag} saved ({time.monotonic() - saving:.1f} s).")
        return tag
    finally:
        engine.remove_container(container)


def _json_cmd(script: str) -> str:
    return json.dumps(["bash", "-c", script])


def _stream_until_exit(
    container: str, log: DeploymentLog, limit: int, script: str, env: dict[str, str]
) -> int:
    """Run the build script in the container, copying its output into the
    log as it comes; kill the container at the time limit. Returns the
    script's exit code."""
    chunks: queue.Queue[bytes | None] = queue.Queue()
    exec_id, output = engine.exec_stream(
        container, ["bash", "-c", script], env=env, workdir=APP_PATH
    )

    def read() -> None:
        try:
            for chunk in output:
                chunks.put(chunk)
        except EngineError as e:
            chunks.put(f"\n{e.message}\n".encode())
        finally:
            chunks.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + limit
    while True:
        try:
            chunk = chunks.get(timeout=FLUSH_EVERY)
        except queue.Empty:
            chunk = b""
        if chunk is None:
            break
        if chunk:
            log.write(chunk.decode("utf-8", "replace"))
        log.maybe_flush()
        if time.monotonic() > deadline:
            engine.kill_container(container)
            reader.join(timeout=5)
            raise DeployFailed(
                f"The build took longer than {limit} s (BERTH_BUILD_TIMEOUT) and was stopped. "
                "The app still serves its previous release.",
                code=failures.BUILD_TIMEOUT,
                evidence={"limit_s": limit},
            )
    log.flush()
    return _exec_exit_code(exec_id)


def _exec_exit_code(exec_id: str, patience: float = 30) -> int:
    """The exec's exit code; the engine records it just after the output ends."""
    deadline = time.monotonic() + patience
    while (code := engine.exec_exit_code(exec_id)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return -1 if code is None else code


@dataclass(frozen=True)
class Started:
    container: str
    host_port: int


def run_release(
    app: WebApp,
    deployment: Deployment,
    log: DeploymentLog,
    *,
    name: str = "",
    progress: Progress = _no_progress,
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
        # A fixed host port: Docker keeps it when it restarts a crashed
        # container, so the proxy's route stays right. Another process may
        # take the port between our probe and the start: try a few.
        for attempt in range(3):
            port = _free_port()
            container = engine.create_container(
                deployment.image,
                ["bash", "-c", script],
                name=name,
                environment=env,
                labels=_labels(app, deployment, "app"),
                mem_limit=f"{limits.memory_mb}m",
                nano_cpus=int(limits.cpus * 1e9),
                pids_limit=limits.pids,
                network=network,
                publish_port=APP_PORT,
                host_port=port,
                restart=True,
                mounts=storage.mounts(app) if home else None,
                **guard.options(),
            )
            try:
                engine.start_container(container)
                break
            except EngineError as e:
                if "allocated" not in e.message and "in use" not in e.message or attempt == 2:
                    raise
                engine.remove_container(name)
        port = engine.published_port(container, APP_PORT)
        if not port:
            raise DeployFailed(
                f"Container {name} has no published port {APP_PORT}.",
                code=failures.START_FAILED,
                evidence={"container": name},
            )
        log.line(f"Started container {name} on 127.0.0.1:{port}; waiting for HTTP.")
        progress(STEP_START, DONE, f"{name} on 127.0.0.1:{port}")
        progress(STEP_HEALTH, RUNNING, f"GET {health.health_url(app, port)[0]}")
        healthy = _health_check(app, name, port, log)
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _exists(path: str) -> bool:
    return bool(path) and Path(path).is_file()


# --- health checks -----------------------------------------------------------


def _health_check(app: WebApp, container: str, port: int, log: DeploymentLog) -> str:
    """Like App Service's warm-up: wait for a healthy answer on the health
    check path (200-399 unless configured), within BERTH_START_TIME_LIMIT.
    Returns what answered ("GET / answered 200 after 0.8 s")."""
    limit = settings.BERTH_START_TIME_LIMIT
    started = time.monotonic()
    last = "no answer yet"
    last_status: int | None = None
    while time.monotonic() - started < limit:
        ok, last_status, what = health.probe(app, port)
        if ok:
            healthy = f"{what} after {time.monotonic() - started:.1f} s"
            log.line(f"Health check: {healthy}.")
            return healthy
        last = what
        state = engine.container_state(container)
        if state.status in ("exited", "dead") or state.restart_count >= 2:
            raise DeployFailed(
                f"Container {container} stopped (exit code {state.exit_code}, restarted "
                f"{state.restart_count} times) before answering HTTP on port {APP_PORT}: "
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
        f"Container {container} didn't respond to HTTP pings on port: {APP_PORT} within "
        f"{limit} s ({last}), failing site start. The app still serves its previous release.",
        code=code,
        evidence={"limit_s": limit, "status": last_status, "last": last},
    )


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
    progress: Progress = _no_progress,
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
    with transaction.atomic():
        Deployment.objects.filter(app=app, active=True).exclude(pk=deployment.pk).update(
            active=False
        )
        Deployment.objects.filter(pk=deployment.pk).update(
            active=True, container=started.container, host_port=started.host_port
        )
    deployment.active = True
    deployment.container, deployment.host_port = started.container, started.host_port
    progress(STEP_SWITCH, DONE, f"{started.container} serves: {routed}")
    progress(STEP_RETIRE, RUNNING, "")
    retired = retire_others(app, keep=started.container, log=log)
    progress(STEP_RETIRE, DONE, retired_text(retired))


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
