"""The data folder is Berth's alone: the SQLite database and its WAL hold
every session key, the folder holds the secret and encryption keys, the
apps' git repositories and their logs.

New files are private through the umask portal.settings sets (077); this
fixes what an older install, a shell redirection or a copy left readable.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def private_mode(mode: int) -> int:
    """The owner's bits only; a folder keeps rwx for its owner."""
    bits = stat.S_IMODE(mode) & 0o700
    return bits | 0o700 if stat.S_ISDIR(mode) else bits


def make_private(root: Path) -> list[Path]:
    """chmod go-rwx the folder and everything in it (symlinks are not
    followed); returns the paths changed. Idempotent.

    Ownership is left alone: inside a 0700 folder another user's file is out
    of that user's reach, and the proxy's nginx workers own their temp
    folders on purpose (apps.proxy.nginx gives them back the way in)."""
    changed: list[Path] = []

    def fix(path: Path) -> None:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            return
        if stat.S_IMODE(mode) != private_mode(mode):
            path.chmod(private_mode(mode))
            changed.append(path)

    root.mkdir(parents=True, exist_ok=True)
    fix(root)
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            try:
                fix(Path(folder) / name)
            except FileNotFoundError:
                continue  # removed meanwhile (a lock, a temp file)
    return changed
