"""Building a runtime image from the host's Debian archive: debootstrap a
root filesystem, add the runtime files, import it as an image.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO

from apps.engine import buildplan, buildstate, client, recipe
from apps.engine.errors import RuntimeUnavailable
from apps.engine.versions import image_tag

# Recipe: debootstrap


class DebootstrapStages:
    """debootstrap's output mapped onto 10..75 %: each stage has a floor, and the
    one-line-per-package stages creep towards the next floor (no total is printed)."""

    # (line prefix after "I: ", floor, ceiling, step per line)
    STAGES = [
        ("Retrieving InRelease", 10, 10, 0),
        ("Retrieving Packages", 12, 12, 0),
        ("Resolving dependencies", 15, 15, 0),
        ("Checking component", 16, 16, 0),
        ("Retrieving ", 17, 38, 0.1),
        ("Validating ", 17, 38, 0.1),
        ("Extracting ", 40, 44, 0.1),
        ("Installing core", 45, 45, 0),
        ("Unpacking required", 46, 46, 0),
        ("Configuring required", 50, 50, 0),
        ("Unpacking the base", 55, 55, 0),
        ("Unpacking ", 46, 72, 0.1),
        ("Configuring ", 50, 74, 0.1),
        ("Base system installed", 75, 75, 0),
    ]

    def __init__(self) -> None:
        self.percent = 10.0

    def __call__(self, line: str, current: int) -> int:
        text = line.removeprefix("I: ")
        for prefix, floor, ceiling, step in self.STAGES:
            if text.startswith(prefix):
                self.percent = min(max(self.percent, floor) + step, max(ceiling, self.percent))
                break
        return max(current, int(self.percent))


def build_by_debootstrap(chosen: buildplan.Plan, progress: buildstate.Progress) -> None:
    labels = recipe.image_labels(chosen.version, "debootstrap")
    bootstrap_image(
        what=f"Python {chosen.version}",
        key=chosen.version,
        suite=chosen.suite,
        packages=recipe.debian_packages(),
        tag=image_tag(chosen.version),
        changes=import_changes(chosen.version, labels),
        finish=_finish_rootfs,
        progress=progress,
    )


def bootstrap_image(
    *,
    what: str,
    key: str,
    suite: str,
    packages: list[str],
    tag: str,
    changes: list[str],
    finish: Callable[[Path], None],
    progress: buildstate.Progress,
) -> None:
    """debootstrap `suite` with `packages` from the host's Debian archive,
    let `finish` add files to the root file system, import it as `tag`.
    `key` names the build's scratch folders (one build per key at a time:
    the caller holds its lock). The runtime images and the database service
    images (apps.engine.dataservices) are both made this way."""
    if missing := buildplan.debootstrap_missing():
        raise RuntimeUnavailable(f"Cannot build {what} here: {missing}.")
    progress(6, "Resolving the Debian archive from the host's apt sources")
    mirror = buildplan.find_debian_mirror()
    if not mirror:
        raise RuntimeUnavailable(
            "No Debian archive in the host's apt sources (/etc/apt/sources.list.d/*.sources "
            "or /etc/apt/sources.list); add one, or set BERTH_RUNTIME_SOURCE=pull."
        )
    # A build killed half-way leaves its folder behind; we hold the key's lock.
    for stale in buildstate.runtimes_dir().glob(f"build-{key}-*"):
        _remove_tree(stale)
    workdir = Path(tempfile.mkdtemp(prefix=f"build-{key}-", dir=buildstate.runtimes_dir()))
    rootfs = workdir / "rootfs"
    tarball = workdir / "rootfs.tar"
    try:
        command = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(packages)}",
            suite,
            str(rootfs),
            mirror,
        ]
        if script := buildplan.debootstrap_script(suite):
            command.append(script)
        progress(8, f"debootstrap {suite} ({what})")
        _stream(command, progress, 10, DebootstrapStages())

        progress(76, "Adding Berth's files and cleaning apt caches")
        finish(rootfs)

        progress(80, "Packing the root file system")
        subprocess.run(
            ["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(tarball), "."],
            check=True,
            capture_output=True,
            umask=recipe.IMAGE_UMASK,
        )
        _remove_tree(rootfs)
        progress(85, f"Importing {tarball.stat().st_size / 1e6:.0f} MB into the engine as {tag}")
        client.import_image(str(tarball), tag, changes)
    except subprocess.CalledProcessError as e:
        detail = (e.stderr or b"").decode(errors="replace").strip()[-500:]
        raise RuntimeUnavailable(
            f"Building {what} failed: {' '.join(map(str, e.cmd[:2]))} "
            f"exited with {e.returncode}. {detail}"
        ) from e
    finally:
        _remove_tree(workdir)


def _remove_tree(path: Path) -> None:
    """rmtree, after unmounting what a killed debootstrap left mounted (/proc, /sys)."""
    prefix = str(path.resolve()) + "/"
    with contextlib.suppress(OSError):
        mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
        for mount in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
    shutil.rmtree(path, ignore_errors=True)


def import_changes(version: str, labels: dict[str, str]) -> list[str]:
    """Dockerfile lines `docker import --change` applies."""
    changes = [f"ENV {name}={value}" for name, value in recipe.image_env(version).items()]
    changes += [f'LABEL {name}="{value}"' for name, value in labels.items()]
    changes += [
        f"WORKDIR {recipe.WORKDIR}",
        "EXPOSE 8000",
        f"CMD {json.dumps(['/bin/sh', '-c', recipe.DEFAULT_CMD])}",
    ]
    return changes


def _finish_rootfs(rootfs: Path) -> None:
    shutil.copytree(recipe.RUNTIME_FILES, rootfs, dirs_exist_ok=True, symlinks=True)
    _mkdir_public(rootfs, recipe.WORKDIR.lstrip("/"))
    # Anyone's, sticky, as on any Linux and on App Service: the app's user writes there.
    (rootfs / "tmp").mkdir(exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    clean_apt(rootfs)
    for path in rootfs.rglob("__pycache__"):
        if "defaultsite" in path.parts:
            shutil.rmtree(path, ignore_errors=True)


def clean_apt(rootfs: Path) -> None:
    """Empty apt's lists and caches (and the man pages), keeping the folders apt needs."""
    for junk in ("var/lib/apt/lists", "var/cache/apt", "var/cache/debconf", "usr/share/man"):
        path = rootfs / junk
        if path.is_dir():
            for child in path.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                elif child.name != "lock":
                    child.unlink(missing_ok=True)
    _mkdir_public(rootfs, "var/lib/apt/lists/partial")
    _mkdir_public(rootfs, "var/cache/apt/archives/partial")


def _mkdir_public(rootfs: Path, relative: str) -> None:
    """mkdir -p with 0755 folders, whatever the process's umask."""
    path = rootfs
    for part in Path(relative).parts:
        path = path / part
        if not path.exists():
            path.mkdir()
            path.chmod(0o755)


def _stream(
    command: list[str],
    progress: buildstate.Progress,
    percent: int,
    stage: Callable[[str, int], int],
) -> None:
    """Run a command, passing each output line to progress; raise on failure."""
    lines: deque[str] = deque(maxlen=15)
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        umask=recipe.IMAGE_UMASK,
        env={**os.environ, "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"},
    )
    out: IO[str] = proc.stdout  # type: ignore[assignment]
    for raw in out:
        line = raw.rstrip()
        if not line:
            continue
        lines.append(line)
        percent = stage(line, percent)
        progress(percent, line)
    code = proc.wait()
    if code != 0:
        raise subprocess.CalledProcessError(code, command, stderr="\n".join(lines).encode())
