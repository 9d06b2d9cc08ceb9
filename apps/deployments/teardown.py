"""What deleting an app removes from the engine and the disk: its proxy
route, every container (serving, old, build; running or not), its release
images, volumes labelled with it, the zips kept as deployment artifacts, its
Local Git repository and its log archive. apps.webapps.services.delete_app
calls remove_everything() with the app stopped and its deploy lock held,
then deletes the rows.

The steps run in this order, each taking "already gone" as done:
1. the proxy route: the host name stops reaching containers about to go;
2. the containers: nothing runs from the images any more;
   then the app's own network (apps.deployments.appnet), now empty;
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

from apps.deployments import appnet, gitrepo, intake, release, services
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.engine.errors import EngineError, EngineUnavailable
from apps.logs import archive
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
    """berth/app-<name>: the repository release.release_tag tags into."""
    return release.release_tag(app, Deployment(pk=0)).rpartition(":")[0]


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
    if not getattr(settings, "BERTH_PROXY_ROUTING", True):
        return
    from apps.proxy import nginx
    from apps.proxy.errors import ProxyError

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
        removed.logs = archive.delete_app_logs(app.name, removed.containers)
    except OSError as e:
        raise TeardownFailed(
            f"{app.name} is stopped but not deleted: {e.filename or 'a file'} could not be "
            f"removed ({e.strerror or e}). Fix its permissions, then delete the app again."
        ) from e


def remove_lock_file(app_name: str) -> None:
    """The app's deploy lock file, once the lock is released."""
    with contextlib.suppress(FileNotFoundError):
        services.lock_path(app_name).unlink()
