"""The steps of going live, what a started release is, and the labels
Berth puts on an app's containers and images: shared by the start
(apps.lifecycle.release), the switch (apps.lifecycle.cutover) and the
build (apps.deployments.buildrun)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from apps.deployments.models import Deployment  # the release record: see deploylog.py
from apps.webapps.models import WebApp

APP_PORT = 8000


APP_PATH = "/home/site/wwwroot"


BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# The steps of going live, in order, as a progress callback hears them:
# progress(step, state, detail) with state RUNNING when the step begins and
# DONE when it has ended well.
STEP_START, STEP_HEALTH, STEP_SWITCH, STEP_RETIRE = "start", "health", "switch", "retire"


RUNNING, DONE = "running", "done"


Progress = Callable[[str, str, str], None]


def no_progress(step: str, state: str, detail: str) -> None:
    pass


def labels(app: WebApp, deployment: Deployment, role: str) -> dict[str, str]:
    return {
        "io.berth.app": app.name,
        "io.berth.deployment": str(deployment.pk),
        "io.berth.role": role,
    }


@dataclass(frozen=True)
class Started:
    container: str
    host_port: int
