"""Run a build: in a container from the build image (or, when nothing the
virtual environment depends on changed, from the previous release's image),
as the app's user with capabilities dropped, streaming its output into the
deployment's log, then make the release image (apps.deployments.handoff).

What the build runs is apps.deployments.build's; its environment is
apps.deployments.buildenv's. A failure raises DeployFailed with a code from
apps.core.failures (build_failed, build_timeout, queue_timeout, oom,
runtime_missing, bad_settings).
"""

from __future__ import annotations

import contextlib
import functools
import json
import queue
import threading
import time
from pathlib import Path

from django.conf import settings

from apps.core import failures
from apps.deployments import build, buildenv, buildqueue, handoff
from apps.deployments.intake import to_tar
from apps.deployments.models import Deployment
from apps.engine import buildplan
from apps.engine import client as engine
from apps.engine import runtime_image as runtime_images
from apps.engine.build_image import build_tag
from apps.engine.errors import EngineError
from apps.engine.runtimes import image_tag
from apps.lifecycle import appnet, containers, startup
from apps.lifecycle.deploylog import FLUSH_EVERY, DeploymentLog
from apps.lifecycle.errors import DeployFailed
from apps.lifecycle.source import SourceTree
from apps.lifecycle.steps import APP_PATH, BASE_PATH, labels
from apps.webapps.environment import build_environment
from apps.webapps.models import WebApp
from apps.webapps.validators import environment_problem


def release_tag(app: WebApp, deployment: Deployment) -> str:
    return f"berth/app-{app.name}:{deployment.pk}"


def runtime_image(app: WebApp, log: DeploymentLog | None = None) -> str:
    """The app's runtime image, built first when it or its build image is
    not here (once for every app on that Python: a few minutes), its
    progress in the log."""
    version = app.python_version
    tag = image_tag(version)
    if engine.image_exists(tag) and engine.image_exists(build_tag(version)):
        return tag
    evidence = {"image": tag, "python_version": version}
    if not buildplan.how_to_build(version):
        why = buildplan.why_unavailable(version)
        raise DeployFailed(
            f"The runtime image {tag} for Python {version} is not here and cannot be built "
            f"here: {why} Pick another version (Configuration > General settings). "
            "The app still serves its previous release.",
            code=failures.RUNTIME_MISSING,
            evidence={**evidence, "error": why},
        )
    say = log.line if log else (lambda text: None)
    missing = (
        f"runtime image {tag}"
        if not engine.image_exists(tag)
        else f"build image {build_tag(version)}"
    )
    say(f"The {missing} is not here yet: building it first.")
    _, error = runtime_images.ensure_and_record(
        version, echo=lambda percent, message: say(f"Runtime image: {percent:3d}% {message}")
    )
    if error:
        raise DeployFailed(
            f"The runtime image {tag} could not be built: {error} "
            "The app still serves its previous release.",
            code=failures.RUNTIME_MISSING,
            evidence={**evidence, "error": error},
        )
    return tag


def build_image(app: WebApp) -> str:
    """The build image of the app's Python (compiler, headers, Node.js)."""
    tag = build_tag(app.python_version)
    if not engine.image_exists(tag):
        raise DeployFailed(
            f"The build image {tag} for Python {app.python_version} is not here yet: "
            f"run `python manage.py runtime ensure {app.python_version}`, then deploy again.",
            code=failures.RUNTIME_MISSING,
            evidence={"image": tag, "python_version": app.python_version},
        )
    return tag


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
    """Run the build in a container, make the release image, return its tag.
    The container comes from the build image (a full build; the release is
    the runtime image plus the build's /home/site/wwwroot), or, when nothing
    the virtual environment depends on changed, from the previous release's
    image: its antenv is kept and only the code is replaced (in the build
    image, with that antenv copied in, when PRE/POST_BUILD commands run)."""
    app = deployment.app
    # Values saved before Berth checked them cannot reach the build: say which.
    if problem := environment_problem(build_environment(app)):
        raise DeployFailed(
            problem + " (Configuration > Application settings)", code=failures.BAD_SETTINGS
        )
    runtime = runtime_image(app, log)
    app_settings = {s.name: s.value for s in app.app_settings.all()}
    facts = engine.image_facts(runtime)
    inputs = build.build_inputs(tree, app_settings, app.python_version, facts.id if facts else "")
    previous = previous_release(app, deployment)
    decision = build.decide_reuse(tree, app_settings, inputs, previous)
    if decision.message:
        log.line(decision.message)
    reuse = decision.reuse and previous is not None
    # pip and PRE/POST_BUILD commands run in the build image (a reusing one
    # gets the previous antenv copied in); a reusing build with neither only
    # swaps the code, offline, on the previous release's image.
    tools = not reuse or build.needs_network(app_settings, reuse)
    base = build_image(app) if tools or previous is None else previous.image
    seed = previous.image if reuse and tools and previous else ""
    script = build.script(tree, app_settings, decision.message if reuse else "")
    env, mounts = buildenv.build_env(app)
    if warning := buildenv.ca_bundle_warning():
        log.line(warning)
    engine.ensure_volume(
        buildenv.pip_cache_volume(app),
        {"io.berth.app": app.name, "io.berth.role": "pip-cache"},
        owner=containers.RUN_AS,
        image=runtime,
    )
    name = f"berth-build-{app.name}-{deployment.pk}"
    for leftover in (name, f"{name}-seed", f"{name}-release"):  # from a crashed worker
        engine.remove_container(leftover)
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
            runtime if tools else "",
            seed,
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
    runtime: str = "",
    seed: str = "",
) -> str:
    """`runtime`: the build runs in the build image and the release is this
    runtime image plus its /home/site/wwwroot; else the container is
    committed. `seed`: the image whose antenv a reusing build starts from."""
    app = deployment.app
    app_settings = {s.name: s.value for s in app.app_settings.all()}
    cpus = float(settings.BERTH_BUILD_CPUS)
    log.line(
        f"Build container {name} from {base} (time limit {settings.BERTH_BUILD_TIMEOUT} s, "
        f"memory {settings.BERTH_BUILD_MEMORY}, {cpus:g} CPU; as uid {build.APP_UID}, "
        f"capabilities dropped, the app's own pip cache {buildenv.pip_cache_volume(app)})"
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
        labels=labels(app, deployment, "build"),
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
        if seed:
            copied = handoff.seed_antenv(seed, container, f"{name}-seed", owner=build.APP_UID)
            log.line(
                f"Copied {build.VENV} from {seed} into the build image "
                f"({copied.bytes / 1e6:.0f} MB, {copied.seconds:.1f} s)."
            )
        prefix = build.STAGING if reuse else APP_PATH.lstrip("/")
        upload = to_tar(Path(deployment.artifact), prefix=prefix, owner=build.APP_UID)
        engine.put_archive(container, "/", upload)
        engine.start_container(container)
        if runtime:  # a reused release image has the name already
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
        commit = functools.partial(engine.commit_container, container)
        if runtime:
            commit = functools.partial(
                handoff.release_from_build,
                container,
                runtime,
                f"{name}-release",
                owner=build.APP_UID,
            )
        commit(
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
                **labels(app, deployment, "release"),
                build.INPUTS_LABEL: json.dumps(inputs, sort_keys=True),
                # A release made from the runtime image is flat again.
                build.DEPTH_LABEL: str(decision.depth if reuse and not runtime else 0),
                containers.RUN_AS_LABEL: containers.RUN_AS,
            },
        )
        made = f"{runtime} plus the build's {APP_PATH}" if runtime else f"the build on {base}"
        log.line(f"Release image {tag} saved: {made} ({time.monotonic() - saving:.1f} s).")
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
