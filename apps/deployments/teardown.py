"""What deleting an app removes from the engine and the disk: its proxy
route, every container (serving, old, build; running or not), its release
images, volumes labelled with it, the zips kept as deployment artifacts, its
Local Git repository and its log archive. delete_app (below)
calls remove_everything() with the app stopped and its deploy lock held,
then deletes the rows.

The steps run in this order, each taking "already gone" as done:
1. the proxy route: the host name stops reaching containers about to go;
2. the containers: nothing runs from the images any more;
   then the app's own network (apps.lifecycle.appnet), now empty;
3. the images, newest first: a release that reused the previous one's
   virtual environment is built on top of its image;
4. volumes carrying the app's label (its pip cache, berth-pip-cache-<app>);
5. files: artifacts, the Git repository, the log archive.
The first step that fails stops the rest and raises TeardownFailed, saying
what was left; running remove_everything() again finishes the job.

Shared things stay: the runtime images (berth/python:3.X) serve every app.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from apps.audit.models import AuditEvent
from apps.audit.services import record
from apps.core import hooks
from apps.deployments import buildrun, gitrepo, intake
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.engine.errors import EngineError, EngineUnavailable
from apps.lifecycle import appnet, locks
from apps.proxy import nginx
from apps.proxy.errors import ProxyError
from apps.webapps import services as config
from apps.webapps.models import WebApp

APP_LABEL = "io.berth.app"


class TeardownFailed(Exception):
    """Something of the app could not be removed; `message` says what and
    that deleting again finishes the job."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Removed:
    """What remove_everything() removed (for the Activity log)."""

    route: bool = False
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    logs: bool = False

    def as_dict(self) -> dict:
        return {
            "route": self.route,
            "containers": self.containers,
            "networks": self.networks,
            "images": self.images,
            "volumes": self.volumes,
            "files": self.files,
            "logArchive": self.logs,
        }


def release_repository(app: WebApp) -> str:
    """berth/app-<name>: the repository buildrun.release_tag tags into."""
    return buildrun.release_tag(app, Deployment(pk=0)).rpartition(":")[0]


def remove_everything(app: WebApp) -> Removed:
    removed = Removed()
    _remove_route(app, removed)
    try:
        _remove_engine_objects(app, removed)
    except EngineUnavailable as e:
        # Every engine object of an app comes from one of its deployments:
        # an app never deployed has none, so an engine that is down (or not
        # installed) need not keep it alive.
        if Deployment.objects.filter(app=app).exists():
            raise TeardownFailed(
                f"{app.name} is stopped but not deleted: {e.message} "
                "Delete it again once the engine answers."
            ) from e
    except EngineError as e:
        raise TeardownFailed(
            f"{app.name} is stopped but not deleted: {e.message} Delete it again to finish."
        ) from e
    _remove_files(app, removed)
    return removed


def _remove_route(app: WebApp, removed: Removed) -> None:
    if not settings.BERTH_PROXY_ROUTING:
        return
    try:
        removed.route = app.name in nginx.routes()
        nginx.remove_route(app.name)
        nginx.set_https_only(app.name, False)  # a new app of this name starts plain
    except ProxyError as e:
        raise TeardownFailed(
            f"{app.name} is stopped but not deleted: its proxy route could not be removed "
            f"({e.message}). Delete it again to finish."
        ) from e


def _remove_engine_objects(app: WebApp, removed: Removed) -> None:
    for name in engine.find_containers({APP_LABEL: app.name}):
        engine.remove_container(name)  # force: a running one is killed first
        removed.containers.append(name)
    removed.networks = appnet.remove(app.name)
    images = engine.find_images({APP_LABEL: app.name}, repository=release_repository(app))
    for image_id in images:
        engine.remove_image(image_id)
        removed.images.append(image_id)
    for name in engine.find_volumes({APP_LABEL: app.name}):
        engine.remove_volume(name)
        removed.volumes.append(name)


def _remove_files(app: WebApp, removed: Removed) -> None:
    artifacts = intake.artifact_path(app.name, 0).parent  # DATA_DIR/artifacts/<app>/
    paths = [artifacts, gitrepo.repo_path(app)]
    # Zips a deployment names elsewhere (kept by an older Berth), if they are
    # in the data folder: never a file outside it.
    data = Path(settings.DATA_DIR).resolve()
    named = Deployment.objects.filter(app=app).exclude(artifact="")
    for artifact in sorted(set(named.values_list("artifact", flat=True))):
        path = Path(artifact).resolve()
        if path.is_relative_to(data) and not path.is_relative_to(artifacts.resolve()):
            paths.append(path)
    try:
        for path in paths:
            if path.is_dir():
                shutil.rmtree(path)
                removed.files.append(str(path))
            elif path.exists():
                path.unlink()
                removed.files.append(str(path))
        removed.logs = hooks.delete_app_logs(app.name, removed.containers)
    except OSError as e:
        raise TeardownFailed(
            f"{app.name} is stopped but not deleted: {e.filename or 'a file'} could not be "
            f"removed ({e.strerror or e}). Fix its permissions, then delete the app again."
        ) from e


def remove_lock_file(app_name: str) -> None:
    """The app's deploy lock file, once the lock is released."""
    with contextlib.suppress(FileNotFoundError):
        locks.lock_path(app_name).unlink()


class DeleteFailed(Exception):
    """Part of the app could not be removed from the engine or the disk. The
    app is stopped and its rows are kept, so deleting it again finishes the
    job; `message` says what was left."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# How long a delete waits for a deployment or restart of the app to finish.
DELETE_LOCK_WAIT = 60.0


def delete_app(app: WebApp, *, actor=None) -> None:
    """Delete the app and everything it left behind (`az webapp delete`):
    the page, the API and the CLI all come here.

    In this order, so a failure part-way never leaves an app that cannot be
    deleted again:
    1. The app is marked Stopped (saved at once): reconcile, health checks
       and restarts leave a stopped app down, so nothing starts it again
       while it is taken apart.
    2. With its deploy lock held (a running deployment or restart finishes
       first), apps.deployments.teardown removes its proxy route,
       containers, release images, volumes, kept zips, Git repository and
       log archive. Each step takes "already gone" as done. If one fails,
       DeleteFailed says what was left; the rows stay, the app shows as
       Stopped, and deleting it again finishes the job.
    3. Then the rows go in one transaction (settings, connection strings,
       deployments with their logs, roles, metrics), and the Activity log
       records the deletion. Audit events are kept: they are the record of
       who deleted it (their app link is cleared, their app name kept).
    An app created later with the same name starts clean: no release image,
    artifact, repository or log of this one is left to be reused or shown.
    """
    name, was = app.name, app.state
    WebApp.objects.filter(pk=app.pk).update(state=WebApp.State.STOPPED)
    app.state = WebApp.State.STOPPED
    try:
        with locks.app_lock(name, timeout=DELETE_LOCK_WAIT):
            removed = remove_everything(app)
            config.delete_rows(app, actor=actor, removed=removed.as_dict())
    except locks.AppBusy as e:
        failed = DeleteFailed(
            f"{name} is stopped but not deleted: a deployment or restart of it is still "
            f"running (waited {DELETE_LOCK_WAIT:.0f} s). Delete it again once that has finished."
        )
        _record_incomplete_delete(app, was, failed.message, actor=actor)
        raise failed from e
    except TeardownFailed as e:
        _record_incomplete_delete(app, was, e.message, actor=actor)
        raise DeleteFailed(e.message) from e
    remove_lock_file(name)


def _record_incomplete_delete(app: WebApp, was: str, message: str, *, actor) -> None:
    """The app was stopped on the way: the Activity log says so, and why."""
    record(
        app=app,
        action=AuditEvent.Action.APP_DELETE,
        actor=actor,
        before={"state": was},
        after={"state": WebApp.State.STOPPED, "incomplete": message},
        summary=f"Delete of {app.name} did not finish; the app is stopped: {message}",
    )
