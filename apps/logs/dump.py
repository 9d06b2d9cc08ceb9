"""`az webapp log download`: an app's logs as one zip (Kudu's /api/dump).

The zip holds
- LogFiles/<app>_docker.log: the app's container output, every line the log
  archive keeps (earlier containers, restart markers) and then what the
  serving container said since the archiver last wrote, one line each as
  `<time> <container> <stdout|stderr|marker> <text>`;
- deployments/<id>/log.log: the build and start-up log of each of the
  latest DEPLOYMENTS deployments.

Everything is masked again with the app's secrets of today (the archive and
the build logs were masked when written; a value added since is hidden too),
as the Log stream's download is.
"""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass
from typing import IO

from apps.engine import client as engine
from apps.engine.errors import EngineError
from apps.logs import archive
from apps.logs.services import serving_container
from apps.logs.timestamps import to_ns
from apps.webapps.environment import secret_values
from apps.webapps.masking import Masker, masker
from apps.webapps.models import WebApp

DEPLOYMENTS = 20  # the latest deployments whose logs go in
LIVE_LINES = 10000  # at most this many lines of the serving container the archive lacks
SPOOL_BYTES = 8 * 1024 * 1024  # a bigger zip goes to a temporary file


@dataclass(frozen=True)
class Dump:
    """The zip (positioned at its start) and what it holds."""

    file: IO[bytes]
    names: list[str]
    warnings: list[str]


def container_log_name(app: WebApp) -> str:
    return f"LogFiles/{app.name}_docker.log"


def _container_lines(app: WebApp, secrets: Masker) -> tuple[list[str], list[str]]:
    """The container log's lines (masked, each ending in a newline) and
    what could not be read."""
    archived = archive.tail(app.name, lines=10**9)
    rows = [(a.timestamp, a.container, a.stream, a.text) for a in archived]
    warnings: list[str] = []
    name = serving_container(app)
    if name:
        # The serving container's lines the archiver has not written yet.
        seen = max((to_ns(a.timestamp) for a in archived if a.container == name), default=0)
        try:
            live = engine.container_logs_lines(name, tail=LIVE_LINES)
        except EngineError as e:
            warnings.append(f"The serving container's latest lines are missing: {e.message}")
            live = []
        rows += [
            (ln.timestamp, name, ln.stream, ln.text) for ln in live if to_ns(ln.timestamp) > seen
        ]
    texts = secrets.lines(text for *_, text in rows)
    return [
        f"{t} {c} {s} {text}\n" for (t, c, s, _), text in zip(rows, texts, strict=True)
    ], warnings


def dump(app: WebApp, *, deployments: int = DEPLOYMENTS) -> Dump:
    """The app's logs as a zip, masked; the caller closes `file`."""
    secrets = masker(secret_values(app))
    lines, warnings = _container_lines(app, secrets)
    names: list[str] = []
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned open
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        name = container_log_name(app)
        zf.writestr(name, "".join(lines))
        names.append(name)
        # Through the reverse relation: logs do not import the deployments app.
        for pk, log in app.deployments.order_by("-pk").values_list("pk", "log")[:deployments]:
            name = f"deployments/{pk}/log.log"
            zf.writestr(name, secrets.text(log))
            names.append(name)
    out.seek(0)
    return Dump(out, names, warnings)
