"""Deploy and redeploy: what the pages, the API, git push and the Celery
tasks call. A deployment is built here (apps.deployments.buildrun), then
released by the lifecycle (apps.lifecycle.release and cutover); restart,
start and stop are apps.lifecycle.operations'."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import BinaryIO

from django.db import transaction

from apps.core import failures, hooks, jsontext
from apps.deployments import buildrun, intake, snapshot
from apps.deployments.models import Deployment
from apps.engine.errors import EngineError
from apps.lifecycle import cutover, locks, release, startup
from apps.lifecycle.deploylog import DeploymentLog
from apps.lifecycle.errors import DeployFailed, failure_of
from apps.lifecycle.source import SourceTree
from apps.webapps.environment import start_time_limit
from apps.webapps.models import WebApp

logger = logging.getLogger(__name__)


def deployed_by(app: WebApp, user) -> str:
    """Who a deployment is from, as they authenticated: the signed-in or
    token user, else the app's deployment credentials (HTTP basic)."""
    if getattr(user, "is_authenticated", False):
        return user.get_username()
    return f"{app.publishing_username} (deployment credentials)"


def create_deployment(
    app: WebApp,
    upload: BinaryIO | bytes | Path,
    *,
    source: str = Deployment.Source.ZIP,
    deployer=None,
    author: str = "",
    message: str = "",
    commit_id: str = "",
) -> Deployment:
    """Check the zip (raises intake.BadZip, nothing changed), run the
    pre-deployment check (its findings go on the deployment and at the top of
    its log; they never stop it), keep the zip as the artifact and record a
    queued deployment. Call enqueue() to run it. Every intake path comes
    here: the Deployment Center's upload, the zipdeploy API and git push."""
    if isinstance(upload, Path):
        with upload.open("rb") as f:
            spooled = intake.receive(f)
    else:
        spooled = intake.receive(upload)
    findings = intake.precheck(spooled, app)
    with transaction.atomic():
        deployment = Deployment.objects.create(
            app=app,
            source=source,
            deployer=deployer if getattr(deployer, "is_authenticated", False) else None,
            deployed_by=deployed_by(app, deployer),
            author=author or (deployer.get_username() if deployer else ""),
            message=message,
            commit_id=commit_id,
            precheck=findings,
        )
        path = intake.artifact_path(app.name, deployment.pk)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(spooled, path)
        deployment.artifact = str(path)
        deployment.save(update_fields=["artifact"])
        log = DeploymentLog(deployment)
        for line in hooks.precheck_log_lines(findings):
            log.line(line)
        log.flush()
    deployment.refresh_from_db(fields=["log"])
    return deployment


def redeploy(
    deployment: Deployment, *, deployer=None, restore_settings: bool = False
) -> Deployment:
    """Roll back (or forward) to an earlier release: its image, no rebuild.
    With `restore_settings`, the release's app settings, connection strings,
    startup command and stack are put back first (saved, not yet applied:
    the redeploy itself starts the app once with them)."""
    if not deployment.image or deployment.status != Deployment.Status.SUCCESS:
        raise ValueError(f"Deployment {deployment.pk} has no release image to redeploy.")
    saved = deployment.snapshot
    if restore_settings and not saved:
        raise ValueError(
            f"Deployment {deployment.pk} was made before Berth kept settings with releases: "
            "redeploy it without restoring settings."
        )
    who = deployer if getattr(deployer, "is_authenticated", False) else None
    with transaction.atomic():
        replaced = ""
        if restore_settings:
            replaced = json.dumps(snapshot.take(deployment.app))
            snapshot.restore(deployment.app, saved, actor=who)
        new = Deployment.objects.create(
            replaced_settings=replaced,
            app=deployment.app,
            source=Deployment.Source.ROLLBACK,
            deployer=who,
            deployed_by=deployed_by(deployment.app, deployer),
            author=deployer.get_username() if deployer else "",
            message=f"Redeploy of deployment {deployment.pk}"
            + (" with its settings" if restore_settings else ""),
            commit_id=deployment.commit_id,
            image=deployment.image,
            artifact=deployment.artifact,
            startup=deployment.startup,
        )
    return new


class NoSourceToRebuild(ValueError):
    """The active release's source is gone: a stack change cannot rebuild it."""


def rebuild_for_stack(app_id: int, previous: str, actor=None) -> int | None:
    """The app's stack changed (General settings): build the active
    release's source again on the new runtime and release it as usual, with
    zero downtime. Queued in the caller's transaction, run once it commits.
    If the build or the start fails, the old release keeps serving and the
    stack goes back to `previous` (kept as the settings this deployment
    replaced). None when the app has no release to rebuild. The caller
    queues it (apps.deployments.tasks.rebuild_for_stack). Raises
    NoSourceToRebuild (nothing queued) if the release's zip is gone."""
    app = WebApp.objects.get(pk=app_id)
    active = Deployment.objects.filter(app=app, active=True).first()
    if active is None:
        return None
    if not active.artifact or not Path(active.artifact).is_file():
        raise NoSourceToRebuild(
            f"The source of the serving release (deployment {active.pk}) is no longer kept, "
            "so Berth cannot build it for the new stack: deploy the app again, then change "
            "the stack."
        )
    before = snapshot.take(app)
    before["linuxFxVersion"] = previous
    who = actor if getattr(actor, "is_authenticated", False) else None
    rebuild = Deployment.objects.create(
        app=app,
        source=Deployment.Source.STACK,
        deployer=who,
        deployed_by=deployed_by(app, who) if who else "Berth (stack change)",
        author=who.get_username() if who else "",
        message=f"Rebuild of deployment {active.pk} for {app.linux_fx_version} (was {previous})",
        commit_id=active.commit_id,
        artifact=active.artifact,
        replaced_settings=json.dumps(before),
    )
    log = DeploymentLog(rebuild)
    log.line(
        f"The stack changed from {previous} to {app.linux_fx_version}: building the serving "
        f"release's source (deployment {active.pk}) again on the new runtime. "
        "The app keeps serving the old one until the new one answers."
    )
    log.flush()
    return rebuild.pk


def claim(deployment_id: int) -> bool:
    """Take a queued deployment; False if someone else already has it."""
    return Deployment(pk=deployment_id).start()


def run_deployment(deployment_id: int) -> Deployment:
    """Build (unless it's a redeploy), start, health-check and switch. Safe to
    call twice: only the caller that claims the queued row does the work.
    Holds the app's lock: a second deployment of the same app waits (its row
    stays queued meanwhile), then runs."""
    app = WebApp.objects.get(deployments__pk=deployment_id)
    app_name = app.name
    try:
        with locks.app_lock(app_name, start_limit=start_time_limit(app)):
            return _run_deployment(deployment_id)
    except locks.AppBusy as e:
        # Still queued: fail it, so it doesn't look stuck forever.
        Deployment(pk=deployment_id).fail(
            failures.LOCK_TIMEOUT,
            e.message,
            {"waited_s": round(e.waited)},
            from_statuses=(Deployment.Status.QUEUED,),
        )
        return Deployment.objects.get(pk=deployment_id)


def _run_deployment(deployment_id: int) -> Deployment:
    if not claim(deployment_id):
        return Deployment.objects.get(pk=deployment_id)
    deployment = Deployment.objects.select_related("app").get(pk=deployment_id)
    app = deployment.app
    log = DeploymentLog(deployment)
    log.line(f"Deployment {deployment.pk} of {app.name} ({deployment.get_source_display()}).")
    try:
        if not deployment.image:
            tree = SourceTree.from_zip(deployment.artifact)
            detection = startup.detect(tree)
            Deployment.objects.filter(pk=deployment.pk).update(startup=detection.to_dict())
            deployment.startup = detection.to_dict()
            deployment.image = buildrun.build_release(deployment, tree, detection, log)
            Deployment.objects.filter(pk=deployment.pk).update(image=deployment.image)
        else:
            log.line(f"Redeploying the release image {deployment.image}: no build.")
        deployment.begin_release()
        # The configuration this release goes live with, kept on it at success.
        app.refresh_from_db()
        who = deployment.deployer.get_username() if deployment.deployer else deployment.author
        in_force = snapshot.take(app, deployer=who)
        if app.state != WebApp.State.RUNNING:
            log.line("The app is stopped: the release is ready and will run when it starts.")
            cutover.make_active(app, deployment)
            _succeed(deployment, log, "Built; the app is stopped.", in_force)
            return deployment
        started = release.run_release(app, deployment, log)
        cutover.swap(app, deployment, started, log)
        _succeed(deployment, log, f"Serving from {started.container}.", in_force)
    except (DeployFailed, EngineError) as e:
        log.line(f"Deployment failed: {e.message}")
        _put_back_settings(deployment, log)
        code, evidence = failure_of(e)
        _fail(deployment, log, code, e.message, evidence)
    except Exception as e:
        logger.exception("Deployment %s crashed", deployment.pk)
        log.line(f"Deployment failed: an error in Berth: {e!r}")
        _put_back_settings(deployment, log)
        _fail(
            deployment,
            log,
            failures.INTERNAL_ERROR,
            f"An error in Berth: {e!r}",
            {"error": repr(e)},
        )
    deployment.refresh_from_db()
    return deployment


def _put_back_settings(deployment: Deployment, log: DeploymentLog) -> None:
    """A failed redeploy-with-settings must not leave the serving release
    running beside another release's settings: restore what it replaced."""
    if not deployment.replaced_settings:
        return
    try:
        snapshot.restore(deployment.app, json.loads(deployment.replaced_settings))
    except Exception:
        logger.exception("Could not put back the settings of deployment %s", deployment.pk)
        log.line("Could not put back the settings this redeploy replaced: check Configuration.")
        return
    log.line("Put back the settings in force before this redeploy; the serving release keeps them.")


def _succeed(deployment: Deployment, log: DeploymentLog, text: str, in_force: dict) -> None:
    log.line(f"Status: {Deployment.Status.SUCCESS}. {text}")
    log.flush()
    if not deployment.succeed(text):
        logger.warning("Deployment %s was finished by someone else", deployment.pk)
        return
    # Written once: a release is immutable. Through save() so the field
    # encrypts it (update() would too, but keep one path).
    in_force["finished"] = deployment.finished.isoformat()
    row = Deployment.objects.get(pk=deployment.pk)
    row.release_settings = json.dumps(in_force, sort_keys=True)
    row.save(update_fields=["release_settings"])


def _fail(deployment: Deployment, log: DeploymentLog, code: str, text: str, evidence: dict) -> None:
    log.line(f"Status: {Deployment.Status.FAILED}. {text}")
    log.flush()
    deployment.fail(code, text, evidence)


def restore_settings_requested(body: bytes, query) -> bool:
    """The API's {"restoreSettings": true} (or ?restoreSettings=true)."""
    if str(query.get("restoreSettings", "")).lower() in ("1", "true", "yes"):
        return True
    try:
        data = jsontext.loads(body or b"{}")
    except jsontext.BadJson:
        return False
    return isinstance(data, dict) and data.get("restoreSettings") is True
