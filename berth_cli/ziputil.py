"""Zipping a folder the way `az webapp up` does for Python apps."""

from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ZipPlan:
    root: Path
    files: list[str] = field(default_factory=list)  # archive names, "/"-separated
    skipped: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum((self.root / name).stat().st_size for name in self.files)


def skip_dir(name: str) -> bool:
    # az skips every folder whose name contains "env" (venv, .venv, antenv,
    # env, ...): a committed virtual environment breaks the build. Berth also
    # skips .git: history is never part of the app.
    return "env" in name or name == ".git"


def plan(root: str | os.PathLike) -> ZipPlan:
    """What `berth webapp up` would put in the zip, and what it leaves out."""
    root = Path(root).resolve()
    result = ZipPlan(root)
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel = here.relative_to(root)
        keep = []
        for d in sorted(dirnames):
            path = here / d
            if path.is_symlink() or skip_dir(d):
                result.skipped.append((rel / d).as_posix() + "/")
            else:
                keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            path = here / f
            name = (rel / f).as_posix()
            # .env holds local secrets; symlinks may point outside the folder.
            if f == ".env" or path.is_symlink() or not path.is_file():
                result.skipped.append(name)
            else:
                result.files.append(name)
    return result


def make_zip(zip_plan: ZipPlan) -> Path:
    """Write the planned files to a temporary zip; the caller deletes it."""
    fd, name = tempfile.mkstemp(prefix="berth-up-", suffix=".zip")
    os.close(fd)
    with zipfile.ZipFile(name, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname in zip_plan.files:
            zf.write(zip_plan.root / arcname, arcname)
    return Path(name)
