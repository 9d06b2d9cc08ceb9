"""From the build image to the release image, as Oryx hands a build's output
to the runtime image: the build runs in `berth/python-build:<version>`
(compiler, development headers, Node.js), and the release image is the
runtime image plus what the build left in /home/site/wwwroot (the code and
antenv). Neither the tools nor the build's caches reach the app's container.

A reusing build that runs PRE/POST_BUILD commands gets the previous
release's antenv copied into its build container first (seed_antenv), so
those commands have the build image's tools too.
"""

from __future__ import annotations

import io
import tarfile
import time
from dataclasses import dataclass

from apps.engine import client as engine

APP_PATH = "/home/site/wwwroot"
VENV = "antenv"


@dataclass(frozen=True)
class Handoff:
    bytes: int
    seconds: float


def _folders_tar(owner: int, *names: str) -> io.BytesIO:
    """Folders (/home and /home/site) as the app user's, 0755, as the upload makes them."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("home", "home/site", *names):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.uid = info.gid = owner
            tar.addfile(info)
    buf.seek(0)
    return buf


def named_user_files(container: str, uid: int) -> io.BytesIO | None:
    """/etc/passwd and /etc/group with the app's user `app` added when the
    image does not name the uid (tools and the SSH prompt read the name);
    None when both already do."""
    source = engine.get_archive(container, "/etc/passwd")
    group_source = engine.get_archive(container, "/etc/group")
    lines = {
        "passwd": f"app:x:{uid}:{uid}:App Service app:/home:/bin/bash\n",
        "group": f"app:x:{uid}:\n",
    }
    out = io.BytesIO()
    changed = False
    with tarfile.open(fileobj=out, mode="w") as dest:
        for name, archive in (("passwd", source), ("group", group_source)):
            with archive, tarfile.open(fileobj=archive, mode="r") as tar:
                member = tar.getmember(name)
                text = tar.extractfile(member).read().decode()  # type: ignore[union-attr]
            if any(line.startswith("app:") for line in text.splitlines()):
                data = text.encode()
            else:
                changed = True
                data = (text if text.endswith("\n") or not text else text + "\n").encode()
                data += lines[name].encode()
            member.size = len(data)
            dest.addfile(member, io.BytesIO(data))
    out.seek(0)
    return out if changed else None


def release_from_build(
    build_container: str,
    runtime: str,
    name: str,
    tag: str,
    *,
    owner: int,
    changes: list[str],
    labels: dict[str, str],
) -> Handoff:
    """Commit `tag`: the runtime image plus the build container's
    /home/site/wwwroot, owners and modes kept."""
    started = time.monotonic()
    release = engine.create_container(
        runtime, ["true"], name=name, environment={}, labels=labels, network="none"
    )
    try:
        engine.put_archive(release, "/", _folders_tar(owner))
        with engine.get_archive(build_container, APP_PATH) as tree:
            size = tree.seek(0, io.SEEK_END)
            tree.seek(0)
            engine.put_archive(release, "/home/site", tree)
        if users := named_user_files(release, owner):
            engine.put_archive(release, "/etc", users)
        engine.commit_container(release, tag, changes=changes, labels=labels)
    finally:
        engine.remove_container(release)
    return Handoff(size, time.monotonic() - started)


def seed_antenv(previous_image: str, build_container: str, name: str, *, owner: int) -> Handoff:
    """Copy the previous release's antenv into a (created, not started)
    build container's /home/site/wwwroot."""
    started = time.monotonic()
    source = engine.create_container(
        previous_image,
        ["true"],
        name=name,
        environment={},
        labels={"io.berth.role": "build-seed"},
        network="none",
    )
    try:
        engine.put_archive(build_container, "/", _folders_tar(owner, APP_PATH.lstrip("/")))
        with engine.get_archive(source, f"{APP_PATH}/{VENV}") as venv:
            size = venv.seek(0, io.SEEK_END)
            venv.seek(0)
            engine.put_archive(build_container, APP_PATH, venv)
    finally:
        engine.remove_container(source)
    return Handoff(size, time.monotonic() - started)
