"""Each app's persistent storage at /home, as App Service's Linux apps have it.

One Docker named volume per app (berth-home-<app>, labelled with the app so
deleting the app removes it, owned by the app's uid 1000) is mounted at /home
in every container of the app; SSH sessions exec into those containers, so
they see the same /home. The app setting WEBSITES_ENABLE_APP_SERVICE_STORAGE
(true unless set false, as for App Service's built-in images) turns the mount
off for the app; the volume then stays, unmounted, until it is set back or
the app is deleted.

The release image keeps its code at /home/site/wwwroot, which the volume
would hide: before each container of the app starts, `place_code` runs
apps/lifecycle/homesync.py in a throwaway container of the release image
with the volume at HOME_MOUNT, copying the release's code into the volume's
site/wwwroot and keeping what the app wrote (see that module). It returns
what it did, for the deployment log.

The build does not mount /home (App Service's build writes the code into
/home/site/wwwroot; here the build makes an immutable image instead): a
failed build never touches the app's files, and a rollback brings back
code, never older data.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from apps.engine import client as engine
from apps.engine.errors import EngineError
from apps.engine.runtimes import image_tag
from apps.lifecycle.containers import RUN_AS
from apps.webapps.models import WebApp

HOME = "/home"
SETTING = "WEBSITES_ENABLE_APP_SERVICE_STORAGE"
FALSE = ("false", "0", "no", "off")
VOLUME_PREFIX = "berth-home-"
ROLE = "home"
# Where the sync container sees the volume; the image's own /home stays visible.
HOME_MOUNT = "/berth-home"
# Where a helper container sees the volume while a serving container's /home is copied in.
ADOPT_MOUNT = "/berth-adopt"
CODE_PATH = "/home/site/wwwroot"
SYNC_SCRIPT = Path(__file__).with_name("homesync.py")
SYNC_TIMEOUT = 600  # seconds: a large virtual environment copied the first time
SYNC_MEMORY = "256m"
SIZE_TIMEOUT = 60
# What the sync container may do as root: give files to the app's uid and
# replace files whoever wrote them (an app running as root too).
SYNC_CAPS = ["CHOWN", "DAC_OVERRIDE", "FOWNER"]
RESULT_PREFIX = "BERTH-HOMESYNC "


class StorageError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def volume_name(app: WebApp | str) -> str:
    name = app if isinstance(app, str) else app.name
    return f"{VOLUME_PREFIX}{name}"


def enabled(app: WebApp) -> bool:
    """Is /home persistent for this app? Yes unless the app setting
    WEBSITES_ENABLE_APP_SERVICE_STORAGE says false."""
    values = app.app_settings.filter(name=SETTING).values_list("value", flat=True)
    return not any(v.strip().lower() in FALSE for v in values)


def ensure(app: WebApp, image: str) -> bool:
    """Create the app's volume (owned by uid 1000) unless it is there; True when made now."""
    return engine.ensure_volume(
        volume_name(app),
        {"io.berth.app": app.name, "io.berth.role": ROLE},
        owner=RUN_AS,
        image=image,
    )


def mounts(app: WebApp) -> dict[str, tuple[str, str]]:
    """The app container's mounts (engine.create_container's form): the volume
    at /home, or nothing when the app turned persistent storage off."""
    return {volume_name(app): (HOME, "rw")} if enabled(app) else {}


@dataclass(frozen=True)
class Placed:
    """What place_code did (homesync's result)."""

    release: str
    shipped: int
    copied: int
    unchanged: int
    removed: int
    replaced: list[str] = field(default_factory=list)
    replaced_count: int = 0
    kept: list[str] = field(default_factory=list)
    kept_count: int = 0
    backup: str = ""
    restored: list[str] = field(default_factory=list)
    bytecode_dropped: int = 0
    created: bool = False  # the volume was made for this start
    adopted: bool = False  # the serving container's /home was copied in first
    seconds: float = 0.0  # how long it took, the copy's container included

    def lines(self) -> list[str]:
        """The deployment log's words for it."""
        out = [
            f"Persistent storage: {self.volume_words()} /home/site/wwwroot holds release "
            f"{self.release}'s {self.shipped} files ({self.copied} copied, {self.unchanged} "
            f"already there, {self.removed} of the previous release's removed, "
            f"{self.seconds:.1f} s); everything else under /home is kept as the app left it."
        ]
        if self.replaced_count:
            more = self.replaced_count - len(self.replaced)
            out.append(
                f"WARNING: this release ships {self.replaced_count} file(s) at paths where the "
                "app had written its own, and replaced them (as zip deploy does): "
                + ", ".join(self.replaced)
                + (f" and {more} more" if more > 0 else "")
                + f". The app's copies are kept in {self.backup}."
            )
        if self.kept_count:
            more = self.kept_count - len(self.kept)
            out.append(
                f"Kept {self.kept_count} file(s) the previous release shipped and this one "
                "does not, because the app changed them since: "
                + ", ".join(self.kept)
                + (f" and {more} more" if more > 0 else "")
                + "."
            )
        return out

    def volume_words(self) -> str:
        if self.adopted:
            return (
                "a new volume at /home, holding a copy of the /home of the container that "
                "served until now;"
            )
        return "a new volume at /home;" if self.created else "the app's volume at /home;"


@dataclass(frozen=True)
class Serving:
    """The container serving the app and its release, for adopting its /home."""

    container: str
    image: str
    release: str


def place_code(
    app: WebApp, image: str, release: str, *, undo: str = "", serving: Serving | None = None
) -> Placed:
    """Copy the release image's code into the app's volume (creating the
    volume the first time); see the module's doc. StorageError says what
    went wrong; the volume's other files are never touched. With `undo` (a
    release that did not start), the app's files it replaced come back.

    When the volume is made now and `serving` runs without it (started by a
    Berth before persistent storage, or with it turned off), that
    container's /home is copied into the volume first, so what the app
    wrote there is not lost by this start."""
    started = time.monotonic()
    adopted = False
    try:
        created = ensure(app, image)
        if created and serving and engine.container_exists(serving.container):
            _adopt(app, serving)
            adopted = True
        code, output = _sync(app, image, release, f"--undo={undo}" if undo else "")
    except EngineError as e:
        raise StorageError(
            f"Could not put the release's code into /home ({volume_name(app)}): {e.message}"
        ) from e
    result = _result(app, code, output)
    return Placed(**result, created=created, adopted=adopted, seconds=time.monotonic() - started)


def _sync(app: WebApp, image: str, release: str, option: str) -> tuple[int, str]:
    return engine.run_once(
        image,
        [
            "python3",
            "-c",
            SYNC_SCRIPT.read_text(encoding="utf-8"),
            CODE_PATH,
            HOME_MOUNT,
            RUN_AS.partition(":")[0],
            release,
            *([option] if option else []),
        ],
        timeout=SYNC_TIMEOUT,
        user="0",
        network_disabled=True,
        cap_drop=["ALL"],
        cap_add=SYNC_CAPS,
        security_opt=["no-new-privileges"],
        mem_limit=SYNC_MEMORY,
        mounts=[_volume_mount(volume_name(app), HOME_MOUNT)],
    )


def _result(app: WebApp, code: int, output: str) -> dict:
    result = parse_result(output)
    if code != 0 or result is None:
        tail = "\n".join(output.strip().splitlines()[-5:])
        raise StorageError(
            f"Could not put the release's code into /home ({volume_name(app)}): the copy "
            f"exited with code {code}: {tail}"
        )
    return result


def _adopt(app: WebApp, serving: Serving) -> None:
    """Copy the serving container's /home into the (new, empty) volume, then
    record which files in its wwwroot its release shipped (homesync --adopt):
    the others are the app's."""
    helper = f"berth-home-adopt-{app.name}-{secrets.token_hex(3)}"
    engine.create_container(
        serving.image,
        ["true"],
        name=helper,
        environment={},
        labels={"io.berth.app": app.name, "io.berth.role": "home-adopt"},
        network="none",
        mounts={volume_name(app): (ADOPT_MOUNT + HOME, "rw")},
    )
    try:
        # The tar holds home/...: unpacked at ADOPT_MOUNT it lands in the volume.
        engine.put_archive(helper, ADOPT_MOUNT, engine.get_archive(serving.container, HOME))
    finally:
        engine.remove_container(helper)
    _result(app, *_sync(app, serving.image, serving.release, "--adopt"))


def parse_result(output: str) -> dict | None:
    """homesync's result: the JSON on its last BERTH-HOMESYNC line."""
    for line in reversed(output.splitlines()):
        if line.startswith(RESULT_PREFIX):
            try:
                data = json.loads(line[len(RESULT_PREFIX) :])
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def _volume_mount(volume: str, target: str, read_only: bool = False) -> dict:
    # The engine API's Mount, as docker's SDK passes it through.
    return {"Type": "volume", "Source": volume, "Target": target, "ReadOnly": read_only}


@dataclass(frozen=True)
class Usage:
    """The app's storage as the delete page shows it."""

    volume: str
    exists: bool
    size_bytes: int | None  # None: could not be measured
    problem: str = ""

    def describe(self) -> str:
        if not self.exists:
            return f"{self.volume} (not created yet: the app has not started with it)"
        if self.size_bytes is None:
            return f"{self.volume} (size unknown: {self.problem})"
        return f"{self.volume}, {human_size(self.size_bytes)}"


def usage(app: WebApp) -> Usage:
    """Does the app's volume exist, and how much it holds (a `du` in a
    throwaway container of the runtime image, the volume read-only)."""
    volume = volume_name(app)
    try:
        if volume not in engine.find_volumes({"io.berth.app": app.name, "io.berth.role": ROLE}):
            return Usage(volume, False, None)
        code, output = engine.run_once(
            image_tag(app.python_version),
            ["du", "-sk", "/volume"],
            timeout=SIZE_TIMEOUT,
            user="0",
            network_disabled=True,
            cap_drop=["ALL"],
            cap_add=["DAC_READ_SEARCH"],
            security_opt=["no-new-privileges"],
            mounts=[_volume_mount(volume, "/volume", read_only=True)],
        )
    except EngineError as e:
        return Usage(volume, True, None, e.message)
    first = output.strip().split()
    if code != 0 or not first or not first[0].isdigit():
        return Usage(volume, True, None, f"du exited with code {code}")
    return Usage(volume, True, int(first[0]) * 1024)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
