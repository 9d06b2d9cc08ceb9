"""An app's /home (its volume, apps/lifecycle/storage.py) into a backup and
back: a gzipped tar of everything in the volume, owners and modes kept,
read back before it counts; and a restore that makes the volume hold
exactly what the archive holds.

The engine copies in and out of a container that is created but never
started, with the volume mounted at MOUNT: no process of the app's runs.
"""

from __future__ import annotations

import gzip
import secrets
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from apps.engine import client as engine
from apps.engine.errors import EngineError
from apps.lifecycle import storage
from apps.webapps.models import WebApp

MOUNT = "/berth-home"
ROLE = "home-backup"
CLEAR_TIMEOUT = 300


@dataclass(frozen=True)
class HomeArchive:
    """What a /home archive holds: its file count and their bytes, and the
    archive's own size on disk."""

    files: int
    bytes: int
    size: int


def has_home(app: WebApp) -> bool:
    return storage.volume_name(app) in engine.find_volumes(
        {"io.berth.app": app.name, "io.berth.role": storage.ROLE}
    )


def _helper(app: WebApp, image: str, mode: str) -> str:
    name = f"berth-home-backup-{app.name}-{secrets.token_hex(3)}"
    engine.create_container(
        image,
        ["true"],
        name=name,
        environment={},
        labels={"io.berth.app": app.name, "io.berth.role": ROLE},
        network="none",
        mounts={storage.volume_name(app): (MOUNT, mode)},
    )
    return name


def read_back(archive: Path) -> HomeArchive:
    """Read the whole archive (every member's data too); EngineError if it
    does not read."""
    files = total = 0
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.isfile():
                    files += 1
                    total += member.size
                    source = tar.extractfile(member)
                    if source is not None:
                        while source.read(1 << 20):
                            pass
    except (OSError, tarfile.TarError, EOFError) as e:
        raise EngineError(f"The /home archive does not read back: {e}") from e
    return HomeArchive(files, total, archive.stat().st_size)


def export(app: WebApp, image: str, dest: Path) -> HomeArchive | None:
    """The app's /home as a gzipped tar at `dest`, verified; None when the
    app has no volume (it never started with persistent storage). `image`
    is any image on the engine (the app's runtime image)."""
    if not has_home(app):
        return None
    helper = _helper(app, image, "ro")
    try:
        with (
            engine.get_archive(helper, MOUNT) as tar,
            gzip.open(dest, "wb", compresslevel=3) as out,
        ):
            shutil.copyfileobj(tar, out, 1 << 20)
    finally:
        engine.remove_container(helper)
    return read_back(dest)


def restore(app: WebApp, image: str, source: Path) -> HomeArchive:
    """Make the app's volume (created if missing) hold exactly what
    `source` holds: what is there now is removed first."""
    found = read_back(source)  # before anything is touched
    storage.ensure(app, image)
    code, output = engine.run_once(
        image,
        ["find", MOUNT, "-mindepth", "1", "-delete"],
        timeout=CLEAR_TIMEOUT,
        user="0",
        network_disabled=True,
        cap_drop=["ALL"],
        cap_add=["DAC_OVERRIDE", "FOWNER"],
        security_opt=["no-new-privileges"],
        mounts=[{"Type": "volume", "Source": storage.volume_name(app), "Target": MOUNT}],
    )
    if code != 0:
        raise EngineError(f"Emptying /home before the restore failed: {output.strip()[-300:]}")
    helper = _helper(app, image, "rw")
    try:
        # The archive's entries are berth-home/...: unpacked at / they land
        # in the volume (the engine reads gzip itself).
        with source.open("rb") as data:
            engine.put_archive(helper, "/", data)
    finally:
        engine.remove_container(helper)
    return found
